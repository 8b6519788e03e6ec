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
    /// The directory the agent works in (its tools' current directory).
    pub working_directory: PathBuf,
    /// What the agent may do and how: model, tools, permission mode, MCP servers …
    pub options: AgentOptions,
    /// Extra environment for the agent process only (API keys …); never logged.
    pub env: BTreeMap<String, Secret>,
    /// The agent's own session id to continue an earlier conversation.
    pub resume: Option<String>,
    /// With `resume`: continue that conversation as a new one, with its own id, leaving the
    /// original unchanged.
    pub fork: bool,
    /// With `resume`: keep the conversation only up to and including this message (the id
    /// the agent gave it: [`AssistantBlock::message_uuid`](crate::agent::AssistantBlock)).
    pub resume_at: Option<String>,
}

/// How talking to an agent failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The process could not be started (missing binary, no permission …).
    #[error("cannot start the agent: {0}")]
    Spawn(String),
    /// The process exited before or while it was used.
    #[error("the agent exited (code {exit_code:?}): {stderr_tail}")]
    Exited {
        /// Its exit code, when it exited by itself.
        exit_code: Option<i32>,
        /// The end of what it wrote to stderr (secrets redacted).
        stderr_tail: String,
    },
    /// The agent did not answer a control request in time.
    #[error("the agent did not answer '{subtype}' within {seconds} s")]
    Timeout {
        /// The request (`initialize`, `interrupt` …).
        subtype: String,
        /// How long it waited.
        seconds: u64,
    },
    /// The agent answered a control request with an error.
    #[error("the agent refused '{subtype}': {message}")]
    Rejected {
        /// The request.
        subtype: String,
        /// The agent's reason.
        message: String,
    },
    /// The session was closed; nothing more can be sent.
    #[error("the agent session is closed")]
    Closed,
    /// The request cannot be carried out by this runner (the message says why).
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
    /// A runner that keeps none answers [`AgentError::InvalidRequest`]. There is no default
    /// body: a wrapper must forward this (see [`Layered`]) or decide what to answer.
    ///
    /// # Errors
    /// [`AgentError::InvalidRequest`] if this runner keeps no transcript or it is missing.
    async fn transcript(
        &self,
        working_directory: &Path,
        agent_session_id: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, AgentError>;

    /// Copies the conversation `agent_session_id` of the agent that worked in `from` to where
    /// an agent working in `to` finds it, so that one can resume it (with
    /// [`AgentSpec::fork`]: as a new conversation, leaving the original unchanged).
    ///
    /// # Errors
    /// [`AgentError::InvalidRequest`] if this runner keeps no conversations or it is missing.
    async fn copy_conversation(
        &self,
        from: &Path,
        to: &Path,
        agent_session_id: &str,
    ) -> Result<(), AgentError>;
}

/// Something around an [`AgentRunner`], in the spirit of a tower layer: it sees every start and
/// decides what to do with it (log, measure, change the spec, wrap the session), calling
/// `inner` to really start. [`Layered`] turns it into a runner that forwards everything else to
/// the inner runner, so a layer cannot forget a method.
#[async_trait]
pub trait RunnerLayer: Send + Sync {
    /// Starts an agent through `inner`.
    ///
    /// # Errors
    /// Whatever `inner` answers, or the layer's own [`AgentError`].
    async fn start(
        &self,
        inner: &dyn AgentRunner,
        spec: AgentSpec,
        callbacks: AgentCallbacks,
    ) -> Result<Arc<dyn AgentSession>, AgentError>;
}

/// A runner made of a [`RunnerLayer`] around an inner runner: `start` goes through the layer,
/// every other method is forwarded to the inner runner unchanged.
pub struct Layered<L> {
    layer: L,
    inner: Arc<dyn AgentRunner>,
}

impl<L> Layered<L> {
    /// `layer` around `inner`.
    pub fn new(layer: L, inner: Arc<dyn AgentRunner>) -> Self {
        Self { layer, inner }
    }
}

impl<L> std::fmt::Debug for Layered<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layered").finish_non_exhaustive()
    }
}

#[async_trait]
impl<L: RunnerLayer> AgentRunner for Layered<L> {
    async fn start(
        &self,
        spec: AgentSpec,
        callbacks: AgentCallbacks,
    ) -> Result<Arc<dyn AgentSession>, AgentError> {
        self.layer.start(self.inner.as_ref(), spec, callbacks).await
    }

    async fn transcript(
        &self,
        working_directory: &Path,
        agent_session_id: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, AgentError> {
        self.inner
            .transcript(working_directory, agent_session_id, max_bytes)
            .await
    }

    async fn copy_conversation(
        &self,
        from: &Path,
        to: &Path,
        agent_session_id: &str,
    ) -> Result<(), AgentError> {
        self.inner
            .copy_conversation(from, to, agent_session_id)
            .await
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Counting(AtomicUsize);

    #[async_trait]
    impl RunnerLayer for Counting {
        async fn start(
            &self,
            inner: &dyn AgentRunner,
            spec: AgentSpec,
            callbacks: AgentCallbacks,
        ) -> Result<Arc<dyn AgentSession>, AgentError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            inner.start(spec, callbacks).await
        }
    }

    #[tokio::test]
    async fn a_layer_sees_starts_and_everything_else_is_forwarded() {
        let mut inner = MockAgentRunner::new();
        inner
            .expect_transcript()
            .returning(|_, id, _| Ok(format!("transcript of {id}").into_bytes()));
        inner
            .expect_start()
            .returning(|_, _| Err(AgentError::InvalidRequest("no agents here".to_owned())));
        let layered = Layered::new(Counting(AtomicUsize::new(0)), Arc::new(inner));
        let transcript = layered
            .transcript(Path::new("/tmp"), "cli-1", 1024)
            .await
            .unwrap();
        assert_eq!(transcript, b"transcript of cli-1");
        let spec = AgentSpec {
            working_directory: PathBuf::from("/tmp"),
            options: AgentOptions::default(),
            env: BTreeMap::new(),
            resume: None,
            fork: false,
            resume_at: None,
        };
        assert!(
            layered
                .start(spec, AgentCallbacks::default())
                .await
                .is_err()
        );
        assert_eq!(layered.layer.0.load(Ordering::SeqCst), 1);
    }
}
