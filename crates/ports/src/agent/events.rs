//! What an agent reports while it works. Every typed event keeps its raw frame, so nothing the
//! agent said is lost when it is persisted.

pub use overseer_domain::TokenUsage;
use serde_json::Value;

/// What an agent reports while it works, in the order it happened.
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

/// The agent's first report of a turn.
#[derive(Clone, Debug, PartialEq)]
pub struct InitEvent {
    /// The agent's own conversation id (what `resume` takes).
    pub agent_session_id: String,
    /// The model it runs, when it says.
    pub model: Option<String>,
    /// The tools it offers the model.
    pub tools: Vec<String>,
    /// Its MCP servers and whether each connected.
    pub mcp_servers: Vec<McpServerStatus>,
    /// The frame as the agent sent it.
    pub raw: Value,
}

/// One MCP server as the agent saw it at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McpServerStatus {
    /// The server's name.
    pub name: String,
    /// `connected`, `failed`, `pending` …, as the agent reports it.
    pub status: String,
}

/// One content block of an assistant message.
#[derive(Clone, Debug, PartialEq)]
pub struct AssistantBlock {
    /// The model message's id, shared by its blocks.
    pub message_id: String,
    /// The model that wrote it, when the agent says.
    pub model: Option<String>,
    /// Set for sub-agent traffic.
    pub parent_tool_use_id: Option<String>,
    /// The agent's own id of this frame in its conversation (what [`AgentSpec::resume_at`]
    /// takes), when it gives one.
    ///
    /// [`AgentSpec::resume_at`]: crate::agent::AgentSpec::resume_at
    pub message_uuid: Option<String>,
    /// The block itself.
    pub block: ContentBlock,
    /// A synthetic message standing for an API failure.
    pub api_error: Option<String>,
    /// The frame as the agent sent it.
    pub raw: Value,
}

/// What one block of an assistant message holds.
#[derive(Clone, Debug, PartialEq)]
pub enum ContentBlock {
    /// Text for the reader.
    Text(String),
    /// A request to run a tool.
    ToolUse {
        /// The tool use's id (the result refers to it).
        id: String,
        /// The tool's name.
        name: String,
        /// Its input.
        input: Value,
    },
    /// The model's reasoning, when shown.
    Thinking(String),
    /// A block this port does not model, kept whole.
    Other(Value),
}

/// A tool's result as fed back to the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolResultEvent {
    /// The tool use it answers.
    pub tool_use_id: String,
    /// The result as the model read it (see [`overseer_domain::tool_result_text`]).
    pub text: String,
    /// The agent's own structured account of the result (for a shell command: stdout,
    /// stderr, whether it was interrupted), when it gives one.
    pub structured: Option<Value>,
    /// Whether the tool failed.
    pub is_error: bool,
    /// Set for a sub-agent's tool: the tool use it works for.
    pub parent_tool_use_id: Option<String>,
    /// The frame as the agent sent it.
    pub raw: Value,
}

/// A tool use that was refused during the turn.
#[derive(Clone, Debug, PartialEq)]
pub struct PermissionDenial {
    /// The refused tool.
    pub tool_name: String,
    /// Its tool use id.
    pub tool_use_id: String,
    /// The input it would have run with.
    pub tool_input: Value,
}

/// How a turn ended.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnResult {
    /// `success`, `error_during_execution`, `error_max_turns`, `error_max_budget_usd` …
    pub subtype: String,
    /// Whether the turn failed (see `subtype`).
    pub is_error: bool,
    /// The final text, when there is one.
    pub result: Option<String>,
    /// Model calls the turn took.
    pub num_turns: u64,
    /// How long the turn took, as the agent measured it.
    pub duration_ms: u64,
    /// Cumulative for the agent process, not for this turn.
    pub total_cost_usd: f64,
    /// This turn's usage.
    pub usage: TokenUsage,
    /// The tool uses refused during the turn.
    pub permission_denials: Vec<PermissionDenial>,
    /// The structured result, when the turn ran with an output schema.
    pub structured_output: Option<Value>,
    /// Why the agent stopped, when it says.
    pub terminal_reason: Option<String>,
    /// The API's HTTP status when an API error ended the turn.
    pub api_error_status: Option<u16>,
    /// The agent's conversation id.
    pub agent_session_id: Option<String>,
    /// The model that answered the turn, by the name its messages carry (`None`: not
    /// reported).
    pub model: Option<String>,
    /// The frame as the agent sent it.
    pub raw: Value,
}

impl TurnResult {
    /// Whether the agent stopped because its process reached `max_budget_usd`.
    #[must_use]
    pub fn hit_budget(&self) -> bool {
        self.subtype == "error_max_budget_usd"
    }
}

/// The agent retries a failed API call.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiRetry {
    /// This attempt's number (1: the first retry).
    pub attempt: u64,
    /// How many it will make at most.
    pub max_retries: u64,
    /// How long it waits before this one.
    pub retry_delay_ms: u64,
    /// The HTTP status that failed, if any.
    pub error_status: Option<u16>,
    /// The frame as the agent sent it.
    pub raw: Value,
}

/// Why the agent process failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentFailure {
    /// What went wrong, for people.
    pub message: String,
    /// The exit code, when it exited by itself.
    pub exit_code: Option<i32>,
    /// The end of its stderr (secrets redacted).
    pub stderr_tail: String,
}
