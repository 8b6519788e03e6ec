//! What the agent asks of its host while it runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use overseer_domain::McpServerName;
use serde_json::Value;

/// The agent wants to use a tool that no rule pre-allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct PermissionRequest {
    pub tool_name: String,
    pub input: Value,
    pub tool_use_id: Option<String>,
    /// A path outside the allowed directories that the tool would touch, if any.
    pub blocked_path: Option<String>,
}

/// The answer to a [`PermissionRequest`].
#[derive(Clone, Debug, PartialEq)]
pub enum PermissionVerdict {
    /// Run the tool, with `updated_input` instead of the original if given.
    Allow { updated_input: Option<Value> },
    /// Do not run it; the model sees `message`. `interrupt` also ends the turn.
    Deny { message: String, interrupt: bool },
}

/// Decides tool permissions. May take its time (a person may be asked).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PermissionHandler: Send + Sync {
    async fn decide(&self, request: PermissionRequest) -> PermissionVerdict;
}

/// Which hook fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKind {
    PreToolUse,
    PostToolUse,
}

/// A tool hook: before the tool runs (`tool_response` empty) or after (with its response).
#[derive(Clone, Debug, PartialEq)]
pub struct HookEvent {
    pub kind: HookKind,
    pub tool_name: String,
    pub tool_input: Value,
    pub tool_use_id: Option<String>,
    pub tool_response: Option<Value>,
    pub duration_ms: Option<u64>,
}

/// The answer to a [`HookEvent`].
#[derive(Clone, Debug, PartialEq)]
pub enum HookVerdict {
    Continue,
    /// Before the tool: do not run it.
    Deny {
        reason: String,
    },
    /// Before the tool: run it with this input instead.
    RewriteInput {
        input: Value,
    },
    /// Stop the agent's turn.
    Stop {
        reason: String,
    },
    /// After the tool: extra context for the model.
    AddContext {
        context: String,
    },
}

/// Observes (and may steer) tool use.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HookHandler: Send + Sync {
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
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub input_schema: Value,
}

/// A tool's answer: text for the model, and whether it is an error.
#[derive(Clone, Debug, PartialEq)]
pub struct McpToolOutput {
    pub text: String,
    pub is_error: bool,
}

/// An MCP server implemented in Rust, served to the agent over its control channel.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait McpToolServer: Send + Sync {
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
    pub permissions: Option<Arc<dyn PermissionHandler>>,
    pub hooks: Option<Arc<dyn HookHandler>>,
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
