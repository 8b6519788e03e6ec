//! The link between nodes: this node's name, the bus to the others, where a session's
//! commands run, and how a command note is sent. What a node does with the commands it
//! receives is [`crate::sessions::remote_commands`]'s; the sessions and approvals only send.

use std::sync::Arc;

use async_trait::async_trait;
use overseer_domain::{Session, SessionId};
use overseer_ports::{ClusterBus, Command, EventNote};

use crate::error::ServiceError;

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

    /// Sends `command` about `session` to `node` (every node when `None`).
    pub(crate) async fn send(
        &self,
        command: Command,
        session: SessionId,
        sequence: u64,
        node: Option<String>,
    ) -> Result<(), ServiceError> {
        self.bus
            .announce(&EventNote::command(session, sequence, command, node))
            .await?;
        Ok(())
    }
}

/// Acts on the command notes addressed to one node.
#[async_trait]
pub trait CommandSink: Send + Sync {
    /// The node whose commands this sink runs.
    fn node(&self) -> &str;

    /// Runs `command` about `session` (in the background when it takes long); `sequence` is
    /// the note's (the delivered message's for [`Command::DeliverMessage`]).
    async fn execute(&self, session: SessionId, sequence: u64, command: Command);
}
