//! The services layer's errors, mapped once to HTTP at the edge.

use overseer_domain::template::{RenderError, TemplateError};
use overseer_domain::{InvalidTransition, QuotaLimit, SessionStatus, ValidationError};
use overseer_ports::agent::AgentError;
use overseer_ports::{FileError, QueueError, RepoError};

/// Why a use case failed. The HTTP adapter maps each variant to one problem type.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Missing, or owned by someone else (indistinguishable on purpose).
    #[error("{entity} not found")]
    NotFound {
        /// What kind of resource.
        entity: &'static str,
    },
    /// An input is invalid (the error names the field).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// A template does not parse or declares its variables wrongly.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The variables do not fit the template (every problem listed).
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The task is deactivated: it cannot run.
    #[error("the task is not active")]
    TaskInactive,
    /// The session does not accept this now.
    #[error("session not active (status '{status}')")]
    SessionNotActive {
        /// Its status.
        status: SessionStatus,
    },
    /// Another writer changed the resource first, or it already exists.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A status change the state machine does not allow.
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    /// The agent failed.
    #[error("the agent failed: {0}")]
    Agent(#[from] AgentError),
    /// This node cannot start agents (no working CLI, or a required sandbox that does not
    /// work); the server's log says why.
    #[error("this node cannot run agents")]
    AgentRuntimeUnavailable,
    /// Every agent slot of the node stayed taken by turns in progress for the whole start
    /// timeout; nothing about the session changed.
    #[error(
        "no agent slot came free within {seconds} s (agent_start_timeout_seconds): every live agent is in a turn"
    )]
    AgentCapacity {
        /// The start timeout that passed.
        seconds: u64,
    },
    /// A working directory or report file could not be used.
    #[error(transparent)]
    Files(#[from] FileError),
    /// The queue refused the run (shutting down, or its backend failed).
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The store failed.
    #[error("storage failure")]
    Storage(#[source] RepoError),
    /// The caller may not do this (the reason says why).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Missing, invalid or expired credentials (never says which).
    #[error("unauthorized")]
    Unauthorized,
    /// It was there, and is no more: an approval link after its approval was answered or
    /// expired.
    #[error("gone: {0}")]
    Gone(&'static str),
    /// A user's quota refuses the request.
    #[error("quota exceeded ({}): {detail}", limit.as_str())]
    QuotaExceeded {
        /// Which limit.
        limit: QuotaLimit,
        /// What is used and allowed, for people.
        detail: String,
    },
    /// Hashing or signing failed inside the service.
    #[error("credential processing failed")]
    Credentials,
}

impl From<RepoError> for ServiceError {
    fn from(err: RepoError) -> Self {
        match err {
            RepoError::NotFound { entity } => Self::NotFound { entity },
            RepoError::AlreadyExists { entity, .. } => {
                Self::Conflict(format!("{entity} already exists"))
            }
            RepoError::Conflict { entity, .. } => {
                Self::Conflict(format!("{entity} was changed by another request"))
            }
            other => Self::Storage(other),
        }
    }
}
