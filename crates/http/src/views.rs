//! Response bodies. Views are built from domain values and show only what a client may see:
//! never a password hash, never a server path.

use std::collections::BTreeMap;

use overseer_domain::template::VariableSpec;
use overseer_domain::{AuditLog, Report, Session, Task, TaskExecution, ToolCall, User};
use overseer_services::AgentState;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub(crate) fn at(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn at_opt(t: Option<OffsetDateTime>) -> Option<String> {
    t.map(at)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub role: String,
    pub is_active: bool,
    pub created_at: String,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email.to_string(),
            role: u.role.to_string(),
            is_active: u.is_active,
            created_at: at(u.created_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TaskView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub prompt_template: String,
    #[schema(value_type = Vec<Object>)]
    pub variables: Vec<VariableSpec>,
    #[schema(value_type = Object)]
    pub sdk_options: Value,
    pub is_active: bool,
    pub generate_report: bool,
    pub report_format: String,
    pub schedule: Option<String>,
    pub schedule_timezone: Option<String>,
    pub schedule_missed_ticks: Option<String>,
    pub version: u32,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Task> for TaskView {
    fn from(t: Task) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.to_string(),
            description: t.description,
            prompt_template: t.template.template().source().to_owned(),
            variables: t.template.variables().to_vec(),
            sdk_options: t.options.to_json(),
            is_active: t.is_active,
            generate_report: t.generate_report,
            report_format: t.report_format.to_string(),
            schedule_timezone: t.schedule.as_ref().map(|s| s.time_zone.to_string()),
            schedule_missed_ticks: t.schedule.as_ref().map(|s| s.missed.to_string()),
            schedule: t.schedule.map(|s| String::from(s.cron)),
            version: t.version,
            created_at: at(t.created_at),
            updated_at: at(t.updated_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Link {
    pub href: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ExecutionView {
    pub id: String,
    pub task_id: String,
    pub session_id: Option<String>,
    pub trigger_type: String,
    #[schema(value_type = Object)]
    pub variables: BTreeMap<String, Value>,
    pub status: String,
    pub error_message: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub duration_seconds: Option<f64>,
    pub result_message_id: Option<String>,
    /// The run's structured result, when its task has an `output_format`.
    #[schema(value_type = Option<Object>)]
    pub structured_output: Option<Value>,
    pub report_id: Option<String>,
    pub task_version: u32,
    pub created_at: String,
    pub updated_at: String,
    #[serde(rename = "_links")]
    #[schema(value_type = Object)]
    pub links: BTreeMap<&'static str, Link>,
}

/// `/api/v1/task-executions/{id}`.
#[must_use]
pub fn execution_path(id: impl std::fmt::Display) -> String {
    format!("/api/v1/task-executions/{id}")
}

impl From<TaskExecution> for ExecutionView {
    fn from(e: TaskExecution) -> Self {
        let mut links = BTreeMap::from([
            (
                "self",
                Link {
                    href: execution_path(e.id),
                },
            ),
            (
                "task",
                Link {
                    href: format!("/api/v1/tasks/{}", e.task_id),
                },
            ),
        ]);
        if let Some(session) = e.session_id {
            links.insert(
                "session",
                Link {
                    href: format!("/api/v1/sessions/{session}"),
                },
            );
        }
        if let Some(report) = e.report_id {
            links.insert(
                "report",
                Link {
                    href: format!("/api/v1/reports/{report}"),
                },
            );
        }
        Self {
            id: e.id.to_string(),
            task_id: e.task_id.to_string(),
            session_id: e.session_id.map(|s| s.to_string()),
            trigger_type: e.trigger.to_string(),
            status: e.status().to_string(),
            error_message: e.error_message.clone(),
            started_at: at_opt(e.started_at),
            completed_at: at_opt(e.completed_at),
            duration_seconds: e.duration_seconds,
            result_message_id: e.result_message_id.map(|m| m.to_string()),
            structured_output: e.structured_output.clone(),
            report_id: e.report_id.map(|r| r.to_string()),
            task_version: e.snapshot.task_version,
            created_at: at(e.created_at),
            updated_at: at(e.updated_at),
            variables: e.variables,
            links,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub mode: String,
    pub status: String,
    #[schema(value_type = Object)]
    pub sdk_options: Value,
    pub agent_session_id: Option<String>,
    /// For a fork: the session it was forked from.
    pub forked_from: Option<String>,
    pub message_count: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_cost_usd: f64,
    pub error_message: Option<String>,
    /// Where the session's agent stands on the node that hosts it: `live`, `starting`,
    /// `waiting` (for a slot: every live agent is mid-turn) or `hibernated` (no process now;
    /// the next message resumes the conversation). Absent before the first start, after the
    /// session ended, and when another node hosts the session.
    #[schema(value_type = Option<String>, example = "hibernated")]
    pub agent_state: Option<&'static str>,
    /// While `agent_state` is `waiting`: the place in the queue, 1 being next.
    pub agent_queue_position: Option<usize>,
    pub created_at: String,
    pub updated_at: String,
}

impl SessionView {
    /// The view with where the session's agent stands.
    #[must_use]
    pub fn with_agent(mut self, state: Option<AgentState>) -> Self {
        self.agent_state = state.map(AgentState::as_str);
        self.agent_queue_position = match state {
            Some(AgentState::Waiting { position }) => Some(position),
            _ => None,
        };
        self
    }
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        Self {
            id: s.id.to_string(),
            name: s.name.to_string(),
            mode: s.mode.to_string(),
            status: s.status().to_string(),
            sdk_options: s.options.to_json(),
            agent_session_id: s.agent_session_id.clone(),
            forked_from: s.forked_from.as_ref().map(|f| f.session.to_string()),
            message_count: s.usage.message_count,
            input_tokens: s.usage.input_tokens,
            output_tokens: s.usage.output_tokens,
            total_cost_usd: s.usage.total_cost_usd,
            error_message: s.error_message.clone(),
            agent_state: None,
            agent_queue_position: None,
            created_at: at(s.created_at),
            updated_at: at(s.updated_at),
            description: s.description,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ToolCallView {
    pub id: String,
    pub message_id: Option<String>,
    pub tool_use_id: String,
    pub tool_name: String,
    #[schema(value_type = Object)]
    pub tool_input: Value,
    /// The output as the model read it (cut at 64 KiB; `tool_output_bytes` is the full size).
    pub tool_output: Option<String>,
    pub tool_output_bytes: Option<u64>,
    /// The agent's structured account of the result (for Bash: stdout, stderr, interrupted).
    #[schema(value_type = Option<Object>)]
    pub tool_response: Option<Value>,
    /// Set for a sub-agent's tool use: the tool use it works for.
    pub parent_tool_use_id: Option<String>,
    pub status: String,
    pub permission_decision: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub duration_ms: Option<u64>,
}

impl From<ToolCall> for ToolCallView {
    fn from(c: ToolCall) -> Self {
        Self {
            id: c.id.to_string(),
            message_id: c.message_id.map(|m| m.to_string()),
            tool_use_id: c.tool_use_id,
            tool_name: c.tool_name,
            tool_input: c.tool_input,
            tool_output: c.tool_output,
            tool_output_bytes: c.tool_output_bytes,
            tool_response: c.tool_response,
            parent_tool_use_id: c.parent_tool_use_id,
            status: c.status.to_string(),
            permission_decision: c.permission_decision.map(|d| d.to_string()),
            started_at: at_opt(c.started_at),
            completed_at: at_opt(c.completed_at),
            duration_ms: c.duration_ms,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportView {
    pub id: String,
    pub session_id: String,
    pub title: String,
    pub format: String,
    pub auto_generated: bool,
    pub created_at: String,
    #[serde(rename = "_links")]
    #[schema(value_type = Object)]
    pub links: BTreeMap<&'static str, Link>,
}

impl From<Report> for ReportView {
    fn from(r: Report) -> Self {
        Self {
            links: BTreeMap::from([
                (
                    "self",
                    Link {
                        href: format!("/api/v1/reports/{}", r.id),
                    },
                ),
                (
                    "download",
                    Link {
                        href: format!("/api/v1/reports/{}/download", r.id),
                    },
                ),
            ]),
            id: r.id.to_string(),
            session_id: r.session_id.to_string(),
            title: r.title.to_string(),
            format: r.format.to_string(),
            auto_generated: r.auto_generated,
            created_at: at(r.created_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditView {
    pub id: String,
    pub user_id: Option<String>,
    pub action_type: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    #[schema(value_type = Object)]
    pub action_details: Value,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: String,
}

impl From<AuditLog> for AuditView {
    fn from(a: AuditLog) -> Self {
        Self {
            id: a.id.to_string(),
            user_id: a.user_id.map(|u| u.to_string()),
            action_type: a.action.to_string(),
            resource_type: a.resource_type.to_string(),
            resource_id: a.resource_id,
            action_details: a.details,
            ip_address: a.ip_address,
            user_agent: a.user_agent,
            created_at: at(a.created_at),
        }
    }
}
