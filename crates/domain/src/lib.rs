//! Overseer's domain: entities, value objects and state machines. No I/O, no async runtime,
//! no database or HTTP types: every other crate depends on this one, never the reverse.

mod agent_options;
mod agent_values;
mod approval;
mod audit;
mod content_block;
mod effort;
mod execution;
mod ids;
mod mcp_server;
mod message;
mod notification;
mod output_format;
mod quota;
mod report;
mod session;
mod setting_source;
mod state_machine;
mod string_enum;
mod subagent;
mod task;
pub mod template;
mod tool_call;
mod user;
mod validation;

pub use agent_options::{
    AgentOptions, DirRoots, EnvValue, EnvVarName, ExecutionTimeout, ExtraDir, HttpUrl,
    McpServerConfig, McpServerName, PermissionMode, UsdBudget,
};
pub use agent_values::{ModelName, SystemPrompt, ToolPattern};
pub use approval::{Approval, ApprovalKind, ApprovalStatus};
pub use audit::{AuditAction, AuditLog, ResourceType};
pub use content_block::{ContentBlock, TokenUsage, tool_result_text};
pub use effort::Effort;
pub use execution::{ExecutionStatus, Lease, TaskExecution, TriggerType};
pub use ids::{
    ApprovalId, AuditLogId, DeliveryId, ExecutionId, McpServerId, MessageId, NotificationTargetId,
    ReportId, SessionId, TaskId, ToolCallId, UserId,
};
pub use mcp_server::{McpScope, McpServer};
pub use message::{Message, MessageBody, MessageRole, MessageType, NewMessage};
pub use notification::{
    Delivery, DeliveryStatus, MAX_DELIVERY_ATTEMPTS, NotificationEvent, NotificationFormat,
    NotificationTarget,
};
pub use output_format::{OutputFormat, OutputSchema};
pub use quota::{Quota, QuotaLimit};
pub use report::{Report, ReportFormat, ReportTitle};
pub use session::{
    Fork, NewSession, Session, SessionMode, SessionName, SessionStatus, SessionUsage,
};
pub use setting_source::SettingSource;
pub use state_machine::InvalidTransition;
pub use subagent::{Subagent, SubagentDescription, SubagentName};
pub use task::{
    CronSchedule, MissedTicks, NewTask, Schedule, Task, TaskName, TaskSnapshot, TimeZoneName,
    check_description,
};
pub use template::{PromptTemplate, TaskTemplate};
pub use tool_call::{PermissionDecision, ToolCall, ToolCallStatus};
pub use user::{Email, PasswordHash, Role, User};
pub use validation::ValidationError;
