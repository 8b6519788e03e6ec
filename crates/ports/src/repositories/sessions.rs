use async_trait::async_trait;
use overseer_domain::{Session, SessionId, SessionMode, SessionStatus};

use crate::{Page, PageRequest, RepoError, Scope};

/// Narrows a session list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only sessions in this status.
    pub status: Option<SessionStatus>,
    /// Only interactive or task sessions.
    pub mode: Option<SessionMode>,
    /// Only sessions in a live status (`created`, `connecting`, `active`, `processing`).
    pub live_only: bool,
}

/// Usage to add to a session's totals after a turn.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UsageDelta {
    /// Input tokens to add.
    pub input_tokens: u64,
    /// Output tokens to add.
    pub output_tokens: u64,
    /// Cost to add, in USD.
    pub cost_usd: f64,
}

/// Sessions: their status (compare-and-set), usage and host node.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session.
    ///
    /// # Errors
    /// `AlreadyExists` if the id is taken; `NotFound` if its user does not exist.
    async fn insert(&self, session: &Session) -> Result<(), RepoError>;

    /// # Errors
    /// `NotFound` if it does not exist or is outside `scope`.
    async fn get(&self, id: SessionId, scope: Scope) -> Result<Session, RepoError>;

    /// Sessions in `scope` matching `filter`, newest first.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list(
        &self,
        scope: Scope,
        filter: SessionFilter,
        page: PageRequest,
    ) -> Result<Page<Session>, RepoError>;

    /// Every session with a turn in flight (`connecting` or `processing`), of every user: few,
    /// as each holds a live agent somewhere. Recovery checks their nodes are still up.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn in_flight(&self) -> Result<Vec<Session>, RepoError>;

    /// Writes status, error message, working directory, agent options and `updated_at` if the
    /// stored status is still `expected`. Of two writers starting from the same status,
    /// exactly one succeeds.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` if the stored status is not `expected`.
    async fn update_status(
        &self,
        session: &Session,
        expected: SessionStatus,
    ) -> Result<(), RepoError>;

    /// Records the CLI's own session id (for resume).
    ///
    /// # Errors
    /// `NotFound`.
    async fn set_agent_session_id(
        &self,
        id: SessionId,
        agent_session_id: &str,
    ) -> Result<(), RepoError>;

    /// Adds to the token and cost totals atomically (concurrent calls all count).
    ///
    /// # Errors
    /// `NotFound`.
    async fn add_usage(&self, id: SessionId, delta: UsageDelta) -> Result<(), RepoError>;
}
