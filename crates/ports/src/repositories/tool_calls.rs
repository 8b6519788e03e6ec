use async_trait::async_trait;
use overseer_domain::{SessionId, ToolCall, ToolCallStatus};

use crate::{Page, PageRequest, RepoError};

/// One write of [`ToolCallRepository::save_all`].
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCallWrite {
    /// The row to write.
    pub call: ToolCall,
    /// `None` inserts the call; `Some(status)` updates it if its stored status is `status`.
    pub expected: Option<ToolCallStatus>,
}

/// Tool calls, by session and tool use id.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ToolCallRepository: Send + Sync {
    /// Stores a new tool call.
    ///
    /// # Errors
    /// `AlreadyExists` if the session already has this `tool_use_id`; `NotFound` if the session
    /// or message does not exist.
    async fn insert(&self, call: &ToolCall) -> Result<(), RepoError>;

    /// Writes message link, output, status, decision and timing if the stored status is still
    /// `expected`.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` if the stored status is not `expected`.
    async fn update(&self, call: &ToolCall, expected: ToolCallStatus) -> Result<(), RepoError>;

    /// Inserts (`expected: None`) or compare-and-set updates the calls, in one transaction: all
    /// are written or none. Each call appears at most once.
    ///
    /// # Errors
    /// As [`Self::insert`] and [`Self::update`], for the first write that fails.
    async fn save_all(&self, writes: &[ToolCallWrite]) -> Result<(), RepoError>;

    /// The calls of this session with any of these model-assigned ids, in no particular order.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn find_by_tool_use_ids(
        &self,
        session: SessionId,
        tool_use_ids: &[String],
    ) -> Result<Vec<ToolCall>, RepoError>;

    /// The session's calls still `pending` or `running`, oldest first.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list_unfinished(&self, session: SessionId) -> Result<Vec<ToolCall>, RepoError>;

    /// The call with this model-assigned id in this session, if any.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn find_by_tool_use_id(
        &self,
        session: SessionId,
        tool_use_id: &str,
    ) -> Result<Option<ToolCall>, RepoError>;

    /// A session's tool calls in the order they were made (oldest first). Callers check the
    /// session's scope first.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list_for_session(
        &self,
        session: SessionId,
        page: PageRequest,
    ) -> Result<Page<ToolCall>, RepoError>;
}
