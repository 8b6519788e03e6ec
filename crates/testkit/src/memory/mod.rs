//! In-memory implementations of every repository port: the reference behaviour of the
//! contract suite, and fast backing for service tests. They enforce the same uniqueness,
//! foreign-key and compare-and-set rules as the SQL store.

mod approvals;
mod audit_logs;
mod cluster;
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

pub use cluster::MemoryCluster;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use overseer_domain::{
    Approval, ApprovalId, AuditLog, DeliveryId, ExecutionId, McpServer, McpServerId, Message,
    MessageId, NotificationTarget, NotificationTargetId, Quota, Report, ReportId, Session,
    SessionId, Task, TaskExecution, TaskId, ToolCall, ToolCallId, User, UserId,
};
use overseer_ports::{Page, PageRequest, Repositories};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Default)]
struct State {
    users: HashMap<UserId, User>,
    tasks: HashMap<TaskId, Task>,
    executions: HashMap<ExecutionId, TaskExecution>,
    sessions: HashMap<SessionId, Session>,
    messages: HashMap<MessageId, Message>,
    tool_calls: HashMap<ToolCallId, ToolCall>,
    audit_logs: Vec<AuditLog>,
    reports: HashMap<ReportId, Report>,
    mcp_servers: HashMap<McpServerId, McpServer>,
    approvals: HashMap<ApprovalId, Approval>,
    quotas: HashMap<UserId, Quota>,
    daily_costs: HashMap<(UserId, time::Date), f64>,
    task_daily_costs: HashMap<(TaskId, time::Date), f64>,
    webhook_secrets: HashMap<TaskId, String>,
    webhook_receipts: HashMap<(TaskId, String), OffsetDateTime>,
    notification_targets: HashMap<NotificationTargetId, NotificationTarget>,
    deliveries: HashMap<DeliveryId, notifications::Queued>,
}

/// Every repository over one shared in-memory state.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The store as the repository trait objects services take.
    #[must_use]
    pub fn repositories(&self) -> Repositories {
        let this = Arc::new(self.clone());
        Repositories {
            users: this.clone(),
            tasks: this.clone(),
            executions: this.clone(),
            sessions: this.clone(),
            messages: this.clone(),
            tool_calls: this.clone(),
            audit_logs: this.clone(),
            reports: this.clone(),
            mcp_servers: this.clone(),
            approvals: this.clone(),
            quotas: this.clone(),
            webhooks: this.clone(),
            notifications: this,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another test thread must not hide this one's result.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Sorts newest first (creation time, then id, descending) and cuts one page, like the SQL
/// store's `ORDER BY created_at DESC, id DESC LIMIT … OFFSET …`.
fn newest_first_page<T: Clone>(
    rows: impl Iterator<Item = T>,
    key: impl Fn(&T) -> (OffsetDateTime, Uuid),
    page: PageRequest,
) -> Page<T> {
    let mut rows: Vec<T> = rows.collect();
    rows.sort_by_key(|row| std::cmp::Reverse(key(row)));
    cut(rows, page)
}

fn cut<T>(rows: Vec<T>, page: PageRequest) -> Page<T> {
    let total = rows.len() as u64;
    let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let items = rows
        .into_iter()
        .skip(offset)
        .take(page.limit() as usize)
        .collect();
    Page { items, total }
}
