//! What the nodes sharing one database tell each other. Notes are small pointers; a receiver
//! reads the data they point to from the database.

use std::sync::Arc;

use async_trait::async_trait;
use overseer_domain::SessionId;

use crate::RepoError;

/// What one node tells the others: a live event it stored (for their subscribers), or a
/// command for the node that runs a session's agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventNote {
    pub session_id: SessionId,
    /// The message's sequence number (for other kinds, the session's last one).
    pub sequence: u64,
    /// Events: `message`, `status`, `approval`. Commands: see [`commands`].
    pub kind: String,
    /// What else identifies the event: the approval id, or `from>to` of a status change.
    pub reference: Option<String>,
    /// The one node that must act on a command; `None`: every node (live events).
    pub target: Option<String>,
}

/// The kinds of command notes.
pub mod commands {
    /// Run a turn for the stored user message at `sequence`.
    pub const DELIVER_MESSAGE: &str = "deliver_message";
    /// Interrupt the session's current turn.
    pub const INTERRUPT: &str = "interrupt";
    /// The approval named by `reference` was answered in the database: wake its waiter.
    pub const APPROVAL_ANSWERED: &str = "approval_answered";
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

    /// Announces several notes, in order, in one round trip where the bus can: a busy
    /// session's events must not cost one message each.
    ///
    /// # Errors
    /// As [`Self::announce`]; the notes before the failing one may have been sent.
    async fn announce_all(&self, notes: &[EventNote]) -> Result<(), RepoError>;

    /// Starts delivering other nodes' notes to `handler`, in order, until the bus is dropped.
    fn listen(&self, handler: NoteHandler);

    /// Whether the node named `node` is up (connected to the shared database).
    ///
    /// # Errors
    /// `Unavailable` when that cannot be found out.
    async fn is_alive(&self, node: &str) -> Result<bool, RepoError>;
}
