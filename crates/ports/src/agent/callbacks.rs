//! What the agent asks of its host while it runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use overseer_domain::McpServerName;
use serde_json::Value;

/// The agent wants to use a tool that no rule pre-allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct PermissionRequest {
    /// The tool the agent wants to use (`Bash`, `mcp__server__tool` …).
    pub tool_name: String,
    /// Its input, as the model wrote it.
    pub input: Value,
    /// The model's id for this tool use, when the agent sends it.
    pub tool_use_id: Option<String>,
    /// A path outside the allowed directories that the tool would touch, if any.
    pub blocked_path: Option<String>,
}

/// The answer to a [`PermissionRequest`].
#[derive(Clone, Debug, PartialEq)]
pub enum PermissionVerdict {
    /// Run the tool, with `updated_input` instead of the original if given.
    Allow {
        /// The input to run instead, if any.
        updated_input: Option<Value>,
    },
    /// Do not run it; the model sees `message`. `interrupt` also ends the turn.
    Deny {
        /// Why: shown to the model.
        message: String,
        /// Whether the turn ends too.
        interrupt: bool,
    },
}

/// Decides tool permissions. May take its time (a person may be asked).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PermissionHandler: Send + Sync {
    /// The verdict for `request`; the agent waits for it.
    async fn decide(&self, request: PermissionRequest) -> PermissionVerdict;
}

/// Which hook fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKind {
    /// Before the tool runs: the verdict may block it or change its input.
    PreToolUse,
    /// After the tool ran: `tool_response` holds its result.
    PostToolUse,
    /// A user message is about to reach the model (`details.prompt`).
    UserPromptSubmit,
    /// The agent is about to end its turn.
    Stop,
    /// A sub-agent starts (`details.agent_type`, `details.agent_id`).
    SubagentStart,
    /// A sub-agent ended its work.
    SubagentStop,
    /// The conversation is about to be compacted (`details.trigger`: `manual` or `auto`).
    PreCompact,
    /// The agent notifies its user (`details.message`).
    Notification,
}

impl HookKind {
    /// Every kind, tool hooks first.
    pub const ALL: &'static [Self] = &[
        Self::PreToolUse,
        Self::PostToolUse,
        Self::UserPromptSubmit,
        Self::Stop,
        Self::SubagentStart,
        Self::SubagentStop,
        Self::PreCompact,
        Self::Notification,
    ];

    /// Whether it concerns one tool use (`tool_*` fields set).
    #[must_use]
    pub fn is_tool_hook(self) -> bool {
        matches!(self, Self::PreToolUse | Self::PostToolUse)
    }

    /// The agent's name for it (`PreToolUse`, `SubagentStop` …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreToolUse => "PreToolUse",
            Self::PostToolUse => "PostToolUse",
            Self::UserPromptSubmit => "UserPromptSubmit",
            Self::Stop => "Stop",
            Self::SubagentStart => "SubagentStart",
            Self::SubagentStop => "SubagentStop",
            Self::PreCompact => "PreCompact",
            Self::Notification => "Notification",
        }
    }
}

/// A hook: for a tool, before it runs (`tool_response` empty) or after (with its response);
/// for the others, what the agent says about the event in `details`.
#[derive(Clone, Debug, PartialEq)]
pub struct HookEvent {
    /// Before or after the tool.
    pub kind: HookKind,
    /// The tool's name.
    pub tool_name: String,
    /// The tool's input.
    pub tool_input: Value,
    /// The model's id for this tool use.
    pub tool_use_id: Option<String>,
    /// The tool's result (after only).
    pub tool_response: Option<Value>,
    /// How long the tool ran (after only, when the agent measures it).
    pub duration_ms: Option<u64>,
    /// For the hooks that are not about one tool: the event's own fields as the agent sent
    /// them (`prompt`, `agent_type`, `trigger`, `message` …), without its bookkeeping
    /// (session id, transcript path, working directory). `Null` for tool hooks.
    pub details: serde_json::Value,
}

/// The answer to a [`HookEvent`].
#[derive(Clone, Debug, PartialEq)]
pub enum HookVerdict {
    /// Let the tool run (or its result stand) unchanged.
    Continue,
    /// Before the tool: do not run it.
    Deny {
        /// Why: shown to the model.
        reason: String,
    },
    /// Before the tool: run it with this input instead.
    RewriteInput {
        /// The input to run instead.
        input: Value,
    },
    /// Stop the agent's turn.
    Stop {
        /// Why: shown to the model.
        reason: String,
    },
    /// After the tool: extra context for the model.
    AddContext {
        /// Text added to the model's context.
        context: String,
    },
}

/// Observes (and may steer) tool use.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HookHandler: Send + Sync {
    /// The verdict for `event`; the agent waits for it.
    async fn on_hook(&self, event: HookEvent) -> HookVerdict;

    /// The hooks to register. Each registered hook is a round trip the CLI waits for on
    /// every tool use, so a handler asks only for those it needs.
    fn kinds(&self) -> &'static [HookKind] {
        &[HookKind::PreToolUse, HookKind::PostToolUse]
    }
}

/// A tool an in-process MCP server offers.
#[derive(Clone, Debug, PartialEq)]
pub struct McpTool {
    /// The tool's name within its server.
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// JSON Schema of the arguments.
    pub input_schema: Value,
}

/// A tool's answer: text for the model, and whether it is an error.
#[derive(Clone, Debug, PartialEq)]
pub struct McpToolOutput {
    /// The tool's answer, as text for the model.
    pub text: String,
    /// Whether the call failed (the model sees the text as an error).
    pub is_error: bool,
}

/// An MCP server implemented in Rust, served to the agent over its control channel.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait McpToolServer: Send + Sync {
    /// The tools this server offers.
    fn tools(&self) -> Vec<McpTool>;
    /// Runs `tool` (its bare name). Failures are outputs with `is_error`, never panics.
    async fn call(&self, tool: &str, arguments: Value) -> McpToolOutput;
}

/// A tool server the service implements itself, which a task or session enables by name in
/// its options (`builtin_servers`), with settings of its own.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait ToolServerFactory: Send + Sync {
    /// Checks a task's or session's settings for this server.
    ///
    /// # Errors
    /// Why the settings are refused, naming the offending key.
    fn check(&self, settings: &serde_json::Map<String, Value>) -> Result<(), String>;

    /// The server one session talks to. What can only fail when a tool runs (an unreachable
    /// cluster, a missing file) is that tool's error, not this call's.
    fn open(&self, settings: &serde_json::Map<String, Value>) -> Arc<dyn McpToolServer>;
}

/// Everything that answers the agent. Without a permission handler, the agent's own
/// permission mode decides tools no rule covers.
#[derive(Clone, Default)]
pub struct AgentCallbacks {
    /// Answers permission requests; `None`: the agent decides by its own rules.
    pub permissions: Option<Arc<dyn PermissionHandler>>,
    /// Sees every tool use before and after; `None`: no hooks.
    pub hooks: Option<Arc<dyn HookHandler>>,
    /// Tool servers run in this process, by the name the agent knows them by.
    pub mcp_servers: BTreeMap<McpServerName, Arc<dyn McpToolServer>>,
}

impl std::fmt::Debug for AgentCallbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentCallbacks")
            .field("permissions", &self.permissions.is_some())
            .field("hooks", &self.hooks.is_some())
            .field("mcp_servers", &self.mcp_servers.keys().collect::<Vec<_>>())
            .finish()
    }
}
