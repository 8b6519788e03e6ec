//! The services layer's errors, mapped once to HTTP at the edge.

use overseer_domain::template::{RenderError, TemplateError};
use overseer_domain::{InvalidTransition, QuotaLimit, SessionStatus, ValidationError};
use overseer_ports::agent::AgentError;
use overseer_ports::{FileError, QueueError, RepoError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Missing, or owned by someone else (indistinguishable on purpose).
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("the task is not active")]
    TaskInactive,
    #[error("session not active (status '{status}')")]
    SessionNotActive { status: SessionStatus },
    /// Another writer changed the resource first, or it already exists.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
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
    AgentCapacity { seconds: u64 },
    #[error(transparent)]
    Files(#[from] FileError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("storage failure")]
    Storage(#[source] RepoError),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Missing, invalid or expired credentials (never says which).
    #[error("unauthorized")]
    Unauthorized,
    /// A user's quota refuses the request.
    #[error("quota exceeded ({}): {detail}", limit.as_str())]
    QuotaExceeded { limit: QuotaLimit, detail: String },
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
