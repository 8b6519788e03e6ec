//! What an agent reports while it works. Every typed event keeps its raw frame, so nothing the
//! agent said is lost when it is persisted.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub enum AgentEvent {
    /// A turn started: the agent's session id (for resume), model, tools, MCP servers.
    Init(InitEvent),
    /// One content block of an assistant message; blocks of one message share `message_id`.
    Assistant(AssistantBlock),
    /// A tool's result, as fed back to the model.
    ToolResult(ToolResultEvent),
    /// The turn ended (successfully or not: check `is_error`).
    TurnEnded(TurnResult),
    /// The agent retries a failed API call.
    ApiRetry(ApiRetry),
    /// A token-level stream event.
    Stream(Value),
    /// A frame this adapter does not model, kept whole.
    Other(Value),
    /// The agent process failed: it exited unexpectedly or broke the protocol. Always last.
    Failed(AgentFailure),
}

impl AgentEvent {
    /// Whether no event of the same turn follows this one.
    #[must_use]
    pub fn ends_turn(&self) -> bool {
        matches!(self, Self::TurnEnded(_) | Self::Failed(_))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct InitEvent {
    pub agent_session_id: String,
    pub model: Option<String>,
    pub tools: Vec<String>,
    pub mcp_servers: Vec<McpServerStatus>,
    pub raw: Value,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McpServerStatus {
    pub name: String,
    pub status: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AssistantBlock {
    pub message_id: String,
    pub model: Option<String>,
    /// Set for sub-agent traffic.
    pub parent_tool_use_id: Option<String>,
    pub block: ContentBlock,
    /// A synthetic message standing for an API failure.
    pub api_error: Option<String>,
    pub raw: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ContentBlock {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    Thinking(String),
    Other(Value),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ToolResultEvent {
    pub tool_use_id: String,
    pub content: Value,
    pub is_error: bool,
    pub raw: Value,
}

/// Token counts of one turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PermissionDenial {
    pub tool_name: String,
    pub tool_use_id: String,
    pub tool_input: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TurnResult {
    /// `success`, `error_during_execution`, `error_max_turns`, `error_max_budget_usd` …
    pub subtype: String,
    pub is_error: bool,
    /// The final text, when there is one.
    pub result: Option<String>,
    pub num_turns: u64,
    pub duration_ms: u64,
    /// Cumulative for the agent process, not for this turn.
    pub total_cost_usd: f64,
    /// This turn's usage.
    pub usage: TokenUsage,
    pub permission_denials: Vec<PermissionDenial>,
    pub terminal_reason: Option<String>,
    pub api_error_status: Option<u16>,
    pub agent_session_id: Option<String>,
    pub raw: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ApiRetry {
    pub attempt: u64,
    pub max_retries: u64,
    pub retry_delay_ms: u64,
    pub error_status: Option<u16>,
    pub raw: Value,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentFailure {
    pub message: String,
    pub exit_code: Option<i32>,
    pub stderr_tail: String,
}
