//! Overseer's use cases, written against the ports only so every adapter can be swapped or
//! mocked.
//!
//! One folder per capability (docs/architecture.md has the map); modules are private and this
//! file re-exports the API. [`Services::build`] wires everything from [`Adapters`] and a
//! [`ServicesConfig`]; [`Services::start`] starts the background loops.
#![warn(missing_docs)]

mod agents;
mod approvals;
mod audit;
mod auth;
mod cached_tasks;
mod callbacks;
mod cluster;
mod context;
mod error;
mod events;
mod executions;
mod notifications;
mod quotas;
mod reports;
mod service_accounts;
mod sessions;
mod signing;
mod tasks;
mod traces;
mod triggers;
mod wiring;

pub use agents::mcp_servers::{McpServerPatch, McpServerService};
pub use agents::option_rules::{BuiltinToolServers, OptionRules};
pub use agents::pool::{AgentPool, AgentState, PoolConfig, PoolError};
pub use agents::runtime::AgentRuntime;
pub use agents::slots::{AgentSlots, Slot};
pub use agents::warm::{WarmPool, WarmPoolConfig};
pub use approvals::ApprovalGate;
pub use audit::AuditService;
pub use auth::{AuthConfig, AuthService, TokenPair};
pub use callbacks::activity::Activity;
pub use context::{Deps, RequestContext};
pub use error::ServiceError;
pub use events::broadcast::InProcessBroadcaster;
pub use executions::queue::QueueConfig;
pub use notifications::{NewTarget, Notice, NotificationService, Outbox, OutboxConfig};
pub use quotas::QuotaStatus;
pub use reports::{ReportService, ReportSubject};
pub use service_accounts::{SERVICE_ACCOUNT_DOMAIN, ServiceAccounts};
pub use sessions::approval_lists::ApprovalOwners;
pub use sessions::stream::{SessionStream, StreamEnd, StreamItem};
pub use sessions::{SessionService, TurnOutcome};
pub use signing::{SIGNATURE_HEADER, TIMESTAMP_HEADER, hmac_sha256_hex};
pub use tasks::{TaskPatch, TaskService};
pub use traces::{TraceParent, TracePropagation};
pub use triggers::scheduler::SchedulerConfig;
pub use triggers::webhooks::{Delivery, WebhookService};
pub use wiring::{Adapters, Running, Services, ServicesConfig};
