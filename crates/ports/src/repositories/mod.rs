//! One repository trait per aggregate.
//!
//! Shared contract, checked by the testkit's contract suite for every implementation:
//! - `get`/`list` honour the [`crate::Scope`]: a row outside it is `NotFound` / absent.
//! - Lists are newest first (`created_at`, then id, descending) unless a method says otherwise,
//!   and report the total number of matching rows.
//! - Status changes are compare-and-set: they take the status the caller last saw and fail with
//!   [`crate::RepoError::Conflict`] if the stored one differs.

mod approvals;
mod audit_logs;
mod executions;
mod mcp_servers;
mod messages;
mod notifications;
mod quotas;
mod reports;
mod sessions;
mod tasks;
mod tool_calls;
mod users;
mod webhooks;

use std::sync::Arc;

pub use approvals::{ApprovalFilter, ApprovalRepository};
pub use audit_logs::{AuditFilter, AuditLogRepository};
pub use executions::{ClaimLimits, ExecutionFilter, ExecutionRepository, LostLeases, Recovered};
pub use mcp_servers::McpServerRepository;
pub use messages::MessageRepository;
pub use notifications::NotificationRepository;
pub use quotas::QuotaRepository;
pub use reports::ReportRepository;
pub use sessions::{SessionFilter, SessionRepository, UsageDelta};
pub use tasks::TaskRepository;
pub use tool_calls::{ToolCallRepository, ToolCallWrite};
pub use users::UserRepository;
pub use webhooks::WebhookRepository;

#[cfg(any(test, feature = "mocks"))]
pub use {
    approvals::MockApprovalRepository, audit_logs::MockAuditLogRepository,
    executions::MockExecutionRepository, mcp_servers::MockMcpServerRepository,
    messages::MockMessageRepository, notifications::MockNotificationRepository,
    quotas::MockQuotaRepository, reports::MockReportRepository, sessions::MockSessionRepository,
    tasks::MockTaskRepository, tool_calls::MockToolCallRepository, users::MockUserRepository,
    webhooks::MockWebhookRepository,
};

/// Every repository, as the trait objects services hold.
#[derive(Clone)]
pub struct Repositories {
    /// Accounts.
    pub users: Arc<dyn UserRepository>,
    /// Tasks and their versions.
    pub tasks: Arc<dyn TaskRepository>,
    /// Task runs and the queue.
    pub executions: Arc<dyn ExecutionRepository>,
    /// Sessions and their usage.
    pub sessions: Arc<dyn SessionRepository>,
    /// Messages, in order per session.
    pub messages: Arc<dyn MessageRepository>,
    /// Tool calls.
    pub tool_calls: Arc<dyn ToolCallRepository>,
    /// The audit trail.
    pub audit_logs: Arc<dyn AuditLogRepository>,
    /// Reports.
    pub reports: Arc<dyn ReportRepository>,
    /// Registered MCP servers.
    pub mcp_servers: Arc<dyn McpServerRepository>,
    /// Approvals.
    pub approvals: Arc<dyn ApprovalRepository>,
    /// Quotas and daily cost.
    pub quotas: Arc<dyn QuotaRepository>,
    /// Inbound webhooks.
    pub webhooks: Arc<dyn WebhookRepository>,
    /// Notification targets and the outbox of their deliveries.
    pub notifications: Arc<dyn NotificationRepository>,
}

impl std::fmt::Debug for Repositories {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repositories").finish_non_exhaustive()
    }
}
