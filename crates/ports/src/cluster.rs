//! What the nodes sharing one database tell each other. Notes are small pointers; a receiver
//! reads the data they point to from the database.

use std::sync::Arc;

use async_trait::async_trait;
use overseer_domain::SessionId;

use crate::RepoError;

/// A live event stored by one node, for the others' subscribers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventNote {
    pub session_id: SessionId,
    /// The message's sequence number (for other kinds, the session's last one).
    pub sequence: u64,
    /// `message`, `status`, `approval`.
    pub kind: String,
    /// What else identifies the event: the approval id, or `from>to` of a status change.
    pub reference: Option<String>,
}

/// Receives the notes of other nodes.
pub type NoteHandler = Arc<dyn Fn(EventNote) + Send + Sync>;

/// Carries [`EventNote`]s between nodes.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ClusterBus: Send + Sync {
    /// Tells every other node. Notes announced one after another arrive in that order.
    ///
    /// # Errors
    /// `Unavailable` when the note could not be sent.
    async fn announce(&self, note: &EventNote) -> Result<(), RepoError>;

    /// Starts delivering other nodes' notes to `handler`, in order, until the bus is dropped.
    fn listen(&self, handler: NoteHandler);
}
