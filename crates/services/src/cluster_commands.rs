//! Commands across nodes. A session lives on the node that created its working directory
//! (`host_node`); a message, interrupt or approval answer that arrives at another node is sent
//! to the host as a command note on the [`ClusterBus`]. A message's text is stored first and
//! the note carries only its sequence number, so no size limit of the bus applies.

use std::sync::Arc;

use async_trait::async_trait;
use overseer_domain::{ApprovalId, Session, SessionId};
use overseer_ports::{ClusterBus, EventNote, commands};

use crate::approvals::ApprovalGate;
use crate::error::ServiceError;
use crate::sessions::SessionService;

/// The reason a session fails when the node that ran it is gone.
pub const NODE_LOST: &str = "node lost";

/// This node's name and the bus to the others.
#[derive(Clone)]
pub struct ClusterLink {
    bus: Arc<dyn ClusterBus>,
    node: String,
}

impl std::fmt::Debug for ClusterLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterLink")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// Where a command for a session must run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Here,
    /// On this other node, which is up.
    There(String),
    /// Its node is down: nobody can run it any more.
    Lost,
}

impl ClusterLink {
    #[must_use]
    pub fn new(bus: Arc<dyn ClusterBus>, node: impl Into<String>) -> Self {
        Self {
            bus,
            node: node.into(),
        }
    }

    #[must_use]
    pub fn bus(&self) -> Arc<dyn ClusterBus> {
        self.bus.clone()
    }

    /// Where `session`'s commands run. Sessions without a host predate host tracking and
    /// run here.
    pub(crate) async fn route(&self, session: &Session) -> Result<Route, ServiceError> {
        match session.host_node.as_deref() {
            None => Ok(Route::Here),
            Some(host) if host == self.node => Ok(Route::Here),
            Some(host) if self.bus.is_alive(host).await? => Ok(Route::There(host.to_owned())),
            Some(_) => Ok(Route::Lost),
        }
    }

    /// Sends a command of `kind` about `session` to `node` (every node when `None`).
    pub(crate) async fn send(
        &self,
        kind: &str,
        session: SessionId,
        sequence: u64,
        reference: Option<String>,
        node: Option<String>,
    ) -> Result<(), ServiceError> {
        let note = EventNote {
            session_id: session,
            sequence,
            kind: kind.to_owned(),
            reference,
            target: node,
        };
        self.bus.announce(&note).await?;
        Ok(())
    }
}

/// Acts on the command notes addressed to one node.
#[async_trait]
pub trait CommandSink: Send + Sync {
    /// The node whose commands this sink runs.
    fn node(&self) -> &str;

    /// Runs one command (in the background when it takes long).
    async fn execute(&self, note: EventNote);
}

/// Runs commands with this node's sessions and approvals.
pub struct SessionCommands {
    pub node: String,
    pub sessions: Arc<SessionService>,
    pub approvals: Arc<ApprovalGate>,
}

impl std::fmt::Debug for SessionCommands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCommands")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl CommandSink for SessionCommands {
    fn node(&self) -> &str {
        &self.node
    }

    async fn execute(&self, note: EventNote) {
        let session = note.session_id;
        match note.kind.as_str() {
            commands::DELIVER_MESSAGE => {
                // A whole turn: it must not hold up the notes behind it.
                let sessions = self.sessions.clone();
                tokio::spawn(async move {
                    if let Err(err) = sessions.run_delivered(session, note.sequence).await {
                        tracing::warn!(session = %session, error = %err, "delivered turn failed");
                    }
                });
            }
            commands::INTERRUPT => {
                // The CLI may take its time to answer: the notes behind it must not wait.
                let sessions = self.sessions.clone();
                tokio::spawn(async move {
                    if let Err(err) = sessions.interrupt_agent(session).await {
                        tracing::warn!(session = %session, error = %err, "delivered interrupt failed");
                    }
                });
            }
            commands::APPROVAL_ANSWERED => {
                if let Some(id) = note
                    .reference
                    .as_deref()
                    .and_then(|r| r.parse::<ApprovalId>().ok())
                {
                    self.approvals.wake(id).await;
                }
            }
            other => tracing::warn!(kind = other, "ignoring an unknown command"),
        }
    }
}

/// Whether `kind` names a command (not a live event).
#[must_use]
pub fn is_command(kind: &str) -> bool {
    matches!(
        kind,
        commands::DELIVER_MESSAGE | commands::INTERRUPT | commands::APPROVAL_ANSWERED
    )
}
