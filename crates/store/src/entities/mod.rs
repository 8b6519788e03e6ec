//! sea-orm models of the tables: storage rows, mapped to and from domain types by the
//! repositories. Relations are not declared: the repositories write their joins explicitly.

pub mod approvals;
pub mod audit_logs;
pub mod daily_costs;
pub mod mcp_servers;
pub mod messages;
pub mod notification_deliveries;
pub mod notification_targets;
pub mod reports;
pub mod sessions;
pub mod task_daily_costs;
pub mod task_executions;
pub mod task_webhooks;
pub mod tasks;
pub mod tool_calls;
pub mod user_quotas;
pub mod users;
pub mod webhook_receipts;
