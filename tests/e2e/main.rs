//! End-to-end tests: the real application on a real port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse;
mod authz;
mod bad_input;
mod budgets;
mod console;
mod dir_roots;
mod fork;
mod lists;
mod mcp_servers;
mod notifications;
mod quotas;
mod reconnect;
mod seed_http;
mod startup;
mod structured_output;
mod subagents;
mod webhooks;
mod ws;
