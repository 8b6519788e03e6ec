//! What the nodes sharing one database tell each other. Notes are small pointers; a receiver
//! reads the data they point to from the database.

use std::sync::Arc;

use async_trait::async_trait;
use overseer_domain::{ApprovalId, SessionId, SessionStatus};

use crate::RepoError;

/// What one node tells the others about a session: a live event it stored (for their
/// subscribers), or a command for the node that runs the session's agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventNote {
    /// The session the note is about.
    pub session_id: SessionId,
    /// The (first) message's sequence number (for other notes, the session's last one, or 0).
    pub sequence: u64,
    /// What the note says.
    pub kind: NoteKind,
}

/// Whether a note points to a live event or carries a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoteKind {
    /// A live event stored by the announcing node: every other node rebuilds it from the
    /// database for its own subscribers.
    Event(StoredEvent),
    /// A command for the node named `node` (every node when `None`: whichever holds what it
    /// is about acts).
    Command {
        /// The node that must act, or every node.
        node: Option<String>,
        /// What to do.
        command: Command,
    },
}

/// A live event another node can rebuild from the database: what the note must carry besides
/// the session and sequence to find it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredEvent {
    /// The messages from the note's sequence to `through`, both included (one message:
    /// `through` is the note's sequence). A run of messages is one note: a flooding agent
    /// costs one note per stored batch, not one per event.
    Messages {
        /// The last message's sequence number.
        through: u64,
    },
    /// The session's status changed from `from` to `to`.
    Status {
        /// The status before.
        from: SessionStatus,
        /// The status after.
        to: SessionStatus,
    },
    /// The approval was asked or answered.
    Approval {
        /// The approval.
        approval_id: ApprovalId,
    },
}

/// What one node asks of the node that runs a session's agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Run a turn for the stored user message at the note's sequence.
    DeliverMessage,
    /// Interrupt the session's current turn.
    Interrupt,
    /// The approval was answered in the database: wake its waiter.
    ApprovalAnswered {
        /// The approval.
        approval_id: ApprovalId,
    },
}

impl EventNote {
    /// A note pointing to a stored live event, for every other node.
    #[must_use]
    pub fn event(session_id: SessionId, sequence: u64, event: StoredEvent) -> Self {
        Self {
            session_id,
            sequence,
            kind: NoteKind::Event(event),
        }
    }

    /// A command about `session_id`, for `node` (every node when `None`).
    #[must_use]
    pub fn command(
        session_id: SessionId,
        sequence: u64,
        command: Command,
        node: Option<String>,
    ) -> Self {
        Self {
            session_id,
            sequence,
            kind: NoteKind::Command { node, command },
        }
    }

    /// Whether the node named `node` must look at this note: every event, and the commands
    /// addressed to it or to every node.
    #[must_use]
    pub fn concerns(&self, node: &str) -> bool {
        match &self.kind {
            NoteKind::Event(_) => true,
            NoteKind::Command { node: target, .. } => target.as_deref().is_none_or(|t| t == node),
        }
    }
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
