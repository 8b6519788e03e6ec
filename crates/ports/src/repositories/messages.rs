use async_trait::async_trait;
use overseer_domain::{Message, MessageId, NewMessage, SessionId};

use crate::RepoError;
use crate::repositories::ToolCallWrite;

/// Messages of sessions, with gap-free sequence numbers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MessageRepository: Send + Sync {
    /// Stores a message with the session's next sequence number and counts it in the session's
    /// `message_count`, in one atomic step. Sequence numbers start at 1 and have no gap and no
    /// duplicate, however many writers append at once.
    ///
    /// # Errors
    /// `NotFound` if the session does not exist; `AlreadyExists` if the id is taken (nothing is
    /// written and no number is used up).
    async fn append(&self, message: NewMessage) -> Result<Message, RepoError> {
        let session = message.session_id;
        let mut stored = self.append_all(session, vec![message]).await?;
        stored
            .pop()
            .ok_or(RepoError::NotFound { entity: "message" })
    }

    /// Stores messages of one session in one atomic step (group commit), numbered
    /// consecutively in the order given, with the same guarantees as [`Self::append`]. An empty
    /// list stores nothing.
    ///
    /// # Errors
    /// As [`Self::append`], and nothing of the batch is written; `Conflict` if the messages do
    /// not all belong to `session`.
    async fn append_all(
        &self,
        session: SessionId,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<Message>, RepoError> {
        self.append_with(session, messages, &[]).await
    }

    /// [`Self::append_all`], and in the same atomic step the tool call writes these messages
    /// bring (as [`ToolCallRepository::save_all`](super::ToolCallRepository::save_all), after
    /// the messages, so a call may refer to one of them). One commit stores a batch of a
    /// session's events.
    ///
    /// # Errors
    /// As [`Self::append_all`] and [`ToolCallRepository::save_all`](super::ToolCallRepository::save_all);
    /// nothing of either is written then.
    async fn append_with(
        &self,
        session: SessionId,
        messages: Vec<NewMessage>,
        tool_calls: &[ToolCallWrite],
    ) -> Result<Vec<Message>, RepoError>;

    /// # Errors
    /// `NotFound`.
    async fn get(&self, id: MessageId) -> Result<Message, RepoError>;

    /// Up to `limit` messages of a session with a sequence number above `after` (0 for all),
    /// in sequence order. Callers check the session's scope first.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list_after(
        &self,
        session: SessionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Message>, RepoError>;
}
