//! Commands across nodes. A session lives on the node that created its working directory
//! (`host_node`); a message, interrupt or approval answer that arrives at another node is sent
//! to the host as a command note on the [`overseer_ports::ClusterBus`]. A message's text is stored first and
//! the note carries only its sequence number, so no size limit of the bus applies.

use std::sync::Arc;

use async_trait::async_trait;
use overseer_domain::SessionId;
use overseer_ports::Command;

use crate::approvals::ApprovalGate;
use crate::cluster::link::CommandSink;
use crate::sessions::SessionService;

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

    async fn execute(&self, session: SessionId, sequence: u64, command: Command) {
        match command {
            Command::DeliverMessage => {
                // A whole turn: it must not hold up the notes behind it.
                let sessions = self.sessions.clone();
                tokio::spawn(async move {
                    if let Err(err) = sessions.run_delivered(session, sequence).await {
                        tracing::warn!(session = %session, error = %err, "delivered turn failed");
                    }
                });
            }
            Command::Interrupt => {
                // The CLI may take its time to answer: the notes behind it must not wait.
                let sessions = self.sessions.clone();
                tokio::spawn(async move {
                    if let Err(err) = sessions.interrupt_agent(session).await {
                        tracing::warn!(session = %session, error = %err, "delivered interrupt failed");
                    }
                });
            }
            Command::ApprovalAnswered { approval_id } => self.approvals.wake(approval_id).await,
        }
    }
}
