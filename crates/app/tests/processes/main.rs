//! The `overseer` binary as a child process: killed with SIGKILL and restarted, and run as
//! two nodes on one Postgres database. The agents are the real CLI against the fake API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent_env;
mod builtin_tools;
mod client;
mod faults;
mod fuzz;
mod isolation;
mod kill;
mod logs;
mod many_sessions;
mod node;
mod notify_links;
mod notify_restart;
mod notify_two_nodes;
mod outlive;
mod secrets;
mod soak;
mod startup_checks;
mod two_nodes;
mod warm;
