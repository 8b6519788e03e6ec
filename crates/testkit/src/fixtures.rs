//! Builders of valid domain values with predictable contents, for tests.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use overseer_domain::template::{VariableName, VariableSpec};
use overseer_domain::{
    AgentOptions, AuditAction, AuditLog, AuditLogId, ContentBlock, Delivery, DeliveryId, Email,
    ExecutionId, HttpUrl, McpScope, McpServer, McpServerConfig, McpServerId, McpServerName,
    MessageBody, MessageId, MessageRole, MessageType, NewMessage, NewSession, NewTask,
    NotificationEvent, NotificationFormat, NotificationTarget, NotificationTargetId, PasswordHash,
    PromptTemplate, Report, ReportFormat, ReportId, ReportTitle, ResourceType, Role, Session,
    SessionId, SessionMode, SessionName, Task, TaskExecution, TaskId, TaskName, TaskTemplate,
    TokenUsage, ToolCall, ToolCallId, ToolCallStatus, TriggerType, User, UserId,
};
use overseer_ports::{Clock, IdSource};
use serde_json::json;
use time::{Duration, OffsetDateTime, macros::datetime};
use uuid::Uuid;

/// A fixed point in time for tests: 2026-01-01 00:00:00 UTC.
pub const EPOCH: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

/// `EPOCH` plus `seconds`.
#[must_use]
pub fn at(seconds: i64) -> OffsetDateTime {
    EPOCH + Duration::seconds(seconds)
}

/// A fresh random id.
#[must_use]
pub fn id() -> Uuid {
    Uuid::now_v7()
}

/// A clock that stands still until a test moves it.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    #[must_use]
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }

    pub fn set(&self, to: OffsetDateTime) {
        *self.0.lock().unwrap() = to;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new(EPOCH)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// Ids 00000000-0000-0000-0000-000000000001, …2, …3 in order.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl IdSource for SequentialIds {
    fn new_id(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::Relaxed) + 1))
    }
}

#[must_use]
pub fn user(email: &str) -> User {
    User::new(
        UserId::from_uuid(id()),
        Email::new(email).unwrap(),
        PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").unwrap(),
        Role::User,
        EPOCH,
    )
}

/// The seed scenario's template: `Check the health of the {cluster_name} cluster.`
#[must_use]
pub fn health_check_template() -> TaskTemplate {
    TaskTemplate::new(
        PromptTemplate::parse("Check the health of the {cluster_name} cluster.").unwrap(),
        vec![VariableSpec::required_string(
            VariableName::new("cluster_name").unwrap(),
        )],
    )
    .unwrap()
}

/// Options that exercise most fields, so round trips are meaningful.
#[must_use]
pub fn rich_options() -> AgentOptions {
    AgentOptions::from_json(json!({
        "model": "claude-sonnet-4-5",
        "allowed_tools": ["Read", "Bash(kubectl get:*)"],
        "disallowed_tools": ["Write"],
        "permission_mode": "default",
        "max_turns": 5,
        "system_prompt": "You are a careful SRE.",
        "mcp_servers": {"k8s": {"type": "sdk"}},
        "env": {"CLUSTER_REGION": "eu-west-1"},
        "max_budget_usd": 1.5
    }))
    .unwrap()
}

#[must_use]
pub fn task(owner: UserId, name: &str, created: OffsetDateTime) -> Task {
    Task::new(
        TaskId::from_uuid(id()),
        owner,
        NewTask {
            name: TaskName::new(name).unwrap(),
            description: Some("Checks pods and deployments".to_owned()),
            template: health_check_template(),
            options: rich_options(),
            generate_report: true,
            report_format: ReportFormat::Markdown,
            schedule: None,
        },
        created,
    )
    .unwrap()
}

#[must_use]
pub fn session(owner: UserId, created: OffsetDateTime) -> Session {
    Session::new(
        SessionId::from_uuid(id()),
        NewSession {
            user_id: owner,
            name: SessionName::new("Task: Kubernetes Cluster Health Check (manual)").unwrap(),
            description: None,
            mode: SessionMode::Task,
            options: rich_options(),
        },
        created,
    )
    .unwrap()
}

#[must_use]
pub fn execution(task: &Task, created: OffsetDateTime) -> TaskExecution {
    let variables = BTreeMap::from([("cluster_name".to_owned(), json!("production"))]);
    TaskExecution::new(
        ExecutionId::from_uuid(id()),
        task.id,
        task.user_id,
        TriggerType::Manual,
        variables,
        task.snapshot(),
        created,
    )
}

#[must_use]
pub fn message(session: SessionId, text: &str, created: OffsetDateTime) -> NewMessage {
    NewMessage {
        id: MessageId::from_uuid(id()),
        session_id: session,
        message_type: MessageType::Assistant,
        role: Some(MessageRole::Assistant),
        // Every field set, so a store's round trip is checked on all of them.
        body: MessageBody {
            blocks: vec![
                ContentBlock::Text {
                    text: text.to_owned(),
                },
                ContentBlock::ToolUse {
                    id: "toolu_fixture".to_owned(),
                    name: "Bash".to_owned(),
                    input: json!({"command": "ls"}),
                },
            ],
            model: Some("claude-sonnet-4-5".to_owned()),
            usage: Some(TokenUsage {
                input_tokens: 12,
                output_tokens: 3,
                cache_creation_input_tokens: 1,
                cache_read_input_tokens: 2,
            }),
            parent_tool_use_id: Some("toolu_parent".to_owned()),
            structured_output: Some(json!({"ok": true})),
            agent_message_id: Some("b3f1c0de-0000-4000-8000-000000000001".to_owned()),
            raw: json!({"type": "assistant", "message": {"content": [{"type": "text", "text": text}]}}),
        },
        created_at: created,
    }
}

#[must_use]
pub fn tool_call(session: SessionId, tool_use_id: &str, created: OffsetDateTime) -> ToolCall {
    ToolCall {
        id: ToolCallId::from_uuid(id()),
        session_id: session,
        message_id: None,
        tool_use_id: tool_use_id.to_owned(),
        tool_name: "Bash".to_owned(),
        tool_input: json!({"command": "kubectl get pods -n production"}),
        tool_output: None,
        tool_output_bytes: None,
        tool_response: Some(json!({"stdout": "", "interrupted": false})),
        parent_tool_use_id: Some("toolu_parent".to_owned()),
        status: ToolCallStatus::Running,
        permission_decision: None,
        started_at: Some(created),
        completed_at: None,
        duration_ms: None,
        created_at: created,
    }
}

#[must_use]
pub fn audit(
    user: Option<UserId>,
    action: &str,
    resource_id: &str,
    created: OffsetDateTime,
) -> AuditLog {
    AuditLog {
        id: AuditLogId::from_uuid(id()),
        user_id: user,
        action: action.parse::<AuditAction>().unwrap(),
        resource_type: ResourceType::new("task_execution").unwrap(),
        resource_id: Some(resource_id.to_owned()),
        details: json!({"trigger": "manual"}),
        ip_address: Some("127.0.0.1".to_owned()),
        user_agent: Some("curl/8.0".to_owned()),
        created_at: created,
    }
}

#[must_use]
pub fn report(session: SessionId, owner: UserId, created: OffsetDateTime) -> Report {
    let report_id = ReportId::from_uuid(id());
    Report {
        id: report_id,
        session_id: session,
        user_id: owner,
        title: ReportTitle::new("Kubernetes Cluster Health Check").unwrap(),
        format: ReportFormat::Markdown,
        file_path: format!("reports/{report_id}/report.md"),
        auto_generated: true,
        created_at: created,
    }
}

#[must_use]
pub fn mcp_server(scope: McpScope, name: &str, created: OffsetDateTime) -> McpServer {
    McpServer {
        id: McpServerId::from_uuid(id()),
        scope,
        name: McpServerName::new(name).unwrap(),
        config: McpServerConfig::Stdio {
            command: "kubectl-mcp".to_owned(),
            args: vec!["--read-only".to_owned()],
            env: BTreeMap::new(),
        },
        is_enabled: true,
        created_at: created,
        updated_at: created,
    }
}

/// A JSON notification target for `events`, created by `created_by` (global when `owner` is
/// `None`), sending nowhere (port 9).
pub fn notification_target(
    created_by: UserId,
    owner: Option<UserId>,
    events: &[NotificationEvent],
    created: i64,
) -> NotificationTarget {
    NotificationTarget {
        id: NotificationTargetId::from_uuid(id()),
        owner,
        created_by,
        url: HttpUrl::new("http://127.0.0.1:9/hook").unwrap(),
        events: events.to_vec(),
        format: NotificationFormat::Json,
        secret: "whsec_contract".to_owned(),
        created_at: at(created),
    }
}

/// A delivery to `target`, due at `due` (seconds).
pub fn delivery(target: &NotificationTarget, due: i64) -> Delivery {
    Delivery::new(
        DeliveryId::from_uuid(id()),
        target.id,
        NotificationEvent::ApprovalRequested,
        json!({"event": "approval.requested", "n": due}),
        at(due),
    )
}
