//! Tool calls an agent made, with their permission decision and outcome.

use serde_json::Value;
use time::OffsetDateTime;

use crate::ids::{MessageId, SessionId, ToolCallId};
use crate::string_enum::string_enum;

string_enum!(
    /// Where a tool call is.
    ToolCallStatus("status") {
        Pending => "pending",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
        Denied => "denied",
    }
);

impl ToolCallStatus {
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Denied)
    }
}

string_enum!(
    /// What the permission policy (or a person) decided.
    PermissionDecision("permission_decision") {
        Allowed => "allowed",
        Denied => "denied",
    }
);

/// One use of a tool by the agent.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub id: ToolCallId,
    pub session_id: SessionId,
    /// The assistant message that asked for the tool.
    pub message_id: Option<MessageId>,
    /// The model's id for this use (`toolu_…`), unique within a session.
    pub tool_use_id: String,
    pub tool_name: String,
    pub tool_input: Value,
    /// The output as the model read it, possibly cut to a bound; `tool_output_bytes` is the
    /// full size.
    pub tool_output: Option<String>,
    pub tool_output_bytes: Option<u64>,
    /// The agent's structured account of the result, beside the text (for a shell command:
    /// stdout, stderr, whether it was interrupted), when it gives one.
    pub tool_response: Option<Value>,
    /// Set for a sub-agent's tool use: the tool use (of the `Task`/`Agent` tool) it works for.
    pub parent_tool_use_id: Option<String>,
    pub status: ToolCallStatus,
    pub permission_decision: Option<PermissionDecision>,
    pub started_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
    pub duration_ms: Option<u64>,
    pub created_at: OffsetDateTime,
}
