//! The agent port: start an agent process, talk to it, and answer its questions.
//!
//! An [`AgentRunner`] starts an [`AgentSession`] from an [`AgentSpec`] and [`AgentCallbacks`].
//! The session yields typed [`AgentEvent`]s; the callbacks answer the agent's permission
//! requests, tool hooks and in-process MCP tool calls while it runs.

mod callbacks;
mod events;
mod secret;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
pub use callbacks::{
    AgentCallbacks, HookEvent, HookHandler, HookKind, HookVerdict, McpTool, McpToolOutput,
    McpToolServer, PermissionHandler, PermissionRequest, PermissionVerdict, ToolServerFactory,
};
pub use events::{
    AgentEvent, AgentFailure, ApiRetry, AssistantBlock, ContentBlock, InitEvent, McpServerStatus,
    PermissionDenial, TokenUsage, ToolResultEvent, TurnResult,
};
use overseer_domain::{AgentOptions, ModelName, PermissionMode};
pub use secret::Secret;

#[cfg(any(test, feature = "mocks"))]
pub use callbacks::{
    MockHookHandler, MockMcpToolServer, MockPermissionHandler, MockToolServerFactory,
};

/// What to start: where, with which options and environment, and whether to resume.
#[derive(Clone, Debug)]
pub struct AgentSpec {
    pub working_directory: PathBuf,
    pub options: AgentOptions,
    /// Extra environment for the agent process only (API keys …); never logged.
    pub env: BTreeMap<String, Secret>,
    /// The agent's own session id to continue an earlier conversation.
    pub resume: Option<String>,
}

/// How talking to an agent failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot start the agent: {0}")]
    Spawn(String),
    #[error("the agent exited (code {exit_code:?}): {stderr_tail}")]
    Exited {
        exit_code: Option<i32>,
        stderr_tail: String,
    },
    #[error("the agent did not answer '{subtype}' within {seconds} s")]
    Timeout { subtype: String, seconds: u64 },
    #[error("the agent refused '{subtype}': {message}")]
    Rejected { subtype: String, message: String },
    #[error("the agent session is closed")]
    Closed,
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// Starts agent processes.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AgentRunner: Send + Sync {
    /// Starts an agent and returns once it is ready for a message (its initialize handshake,
    /// including any in-process MCP handshake, has completed).
    ///
    /// # Errors
    /// [`AgentError::Spawn`] if the process cannot start; [`AgentError::Exited`] if it exits
    /// before it is ready (e.g. an unknown resume id); [`AgentError::Timeout`].
    async fn start(
        &self,
        spec: AgentSpec,
        callbacks: AgentCallbacks,
    ) -> Result<Arc<dyn AgentSession>, AgentError>;

    /// The agent's own log of a conversation (JSON lines), at most `max_bytes` of it (the
    /// end, which holds the latest turns).
    ///
    /// # Errors
    /// [`AgentError::InvalidRequest`] if this runner keeps no transcript or it is missing.
    async fn transcript(
        &self,
        working_directory: &Path,
        agent_session_id: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, AgentError> {
        let _ = (working_directory, agent_session_id, max_bytes);
        Err(AgentError::InvalidRequest(
            "this agent keeps no transcript".to_owned(),
        ))
    }
}

/// One running agent. Every method takes `&self`, so one task can wait for events while
/// another interrupts.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AgentSession: Send + Sync {
    /// Sends a user message; the answer arrives as events ending in [`AgentEvent::TurnEnded`].
    ///
    /// # Errors
    /// [`AgentError::Closed`] if the session is closed or its process is gone.
    async fn send_message(&self, text: &str) -> Result<(), AgentError>;

    /// The next event, or `None` once the process has exited and every event was delivered.
    /// A process that dies unexpectedly yields [`AgentEvent::Failed`] first.
    async fn next_event(&self) -> Option<AgentEvent>;

    /// Waits for the next event like [`Self::next_event`], then takes the events already
    /// waiting behind it, up to `max` in all, stopping after one that
    /// [ends the turn](AgentEvent::ends_turn). Empty once the process has exited and every
    /// event was delivered. Lets a reader store what arrived together in one write.
    async fn next_events(&self, max: usize) -> Vec<AgentEvent>;

    /// Stops the current turn; the agent stays alive for the next message.
    ///
    /// # Errors
    /// [`AgentError::Timeout`], [`AgentError::Closed`].
    async fn interrupt(&self) -> Result<(), AgentError>;

    /// # Errors
    /// [`AgentError::Timeout`], [`AgentError::Rejected`], [`AgentError::Closed`].
    async fn set_permission_mode(&self, mode: PermissionMode) -> Result<(), AgentError>;

    /// `None` returns to the agent's default model.
    ///
    /// # Errors
    /// [`AgentError::Timeout`], [`AgentError::Rejected`], [`AgentError::Closed`].
    async fn set_model(&self, model: Option<ModelName>) -> Result<(), AgentError>;

    /// Ends the session gracefully: closes the agent's input, waits a grace period for it to
    /// finish, then kills its process group. Idempotent.
    ///
    /// # Errors
    /// Never fails today; the `Result` leaves room for adapters that can.
    async fn close(&self) -> Result<(), AgentError>;

    /// The agent's own session id (for resume), once it has told us.
    fn agent_session_id(&self) -> Option<String>;

    /// The operating-system process id, while the process runs.
    fn process_id(&self) -> Option<u32>;

    /// Whether the agent is gone for good (its process exited), so that no message can reach
    /// it any more. Adapters without such an end keep the default.
    fn has_exited(&self) -> bool {
        false
    }
}
