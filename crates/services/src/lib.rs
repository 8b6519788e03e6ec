//! Overseer's use cases, written against the ports only so every adapter can be swapped or
//! mocked.

pub mod agent_activity;
pub mod agent_pool;
pub mod agent_runtime;
pub mod agent_slots;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod broadcast;
pub mod calendar;
pub mod cluster_commands;
pub mod cluster_link;
pub mod cluster_relay;
pub mod context;
pub mod error;
pub mod execution_watch;
pub mod executor;
pub mod hooks;
pub mod live_events;
pub mod mcp_config;
pub mod mcp_servers;
pub mod option_rules;
pub mod permissions;
pub mod processor;
pub mod queue_worker;
pub mod quotas;
pub mod report_render;
pub mod reports;
pub mod scheduler;
pub mod sessions;
pub mod tasks;
pub mod tool_tracking;
pub mod traces;
pub mod warm_pool;
pub mod webhooks;
pub mod wiring;

pub use agent_activity::Activity;
pub use agent_pool::{AgentPool, AgentState, PoolConfig, PoolError};
pub use agent_runtime::AgentRuntime;
pub use agent_slots::{AgentSlots, Slot};
pub use context::{Deps, RequestContext};
pub use error::ServiceError;
pub use option_rules::{BuiltinToolServers, OptionRules};
pub use warm_pool::{WarmPool, WarmPoolConfig};
pub use wiring::{Adapters, Running, Services, ServicesConfig};
