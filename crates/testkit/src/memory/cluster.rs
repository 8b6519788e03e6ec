//! Nodes in one process that share one in-memory store: what one node announces, every other
//! node that is up hears, in order. A node can be taken down to play a crashed one.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use overseer_ports::{ClusterBus, EventNote, NoteHandler, RepoError};

#[derive(Default)]
struct Hub {
    listeners: Vec<(String, NoteHandler)>,
    up: BTreeSet<String>,
}

/// The shared medium; hands out one bus per node.
#[derive(Clone, Default)]
pub struct MemoryCluster {
    hub: Arc<Mutex<Hub>>,
}

impl std::fmt::Debug for MemoryCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCluster").finish_non_exhaustive()
    }
}

impl MemoryCluster {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn hub(&self) -> MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The bus of `node`, which is up from now on.
    #[must_use]
    pub fn join(&self, node: &str) -> Arc<dyn ClusterBus> {
        self.hub().up.insert(node.to_owned());
        Arc::new(MemoryBus {
            cluster: self.clone(),
            node: node.to_owned(),
        })
    }

    /// `node` is gone: it hears nothing more and counts as down.
    pub fn take_down(&self, node: &str) {
        self.hub().up.remove(node);
    }
}

struct MemoryBus {
    cluster: MemoryCluster,
    node: String,
}

#[async_trait]
impl ClusterBus for MemoryBus {
    async fn announce(&self, note: &EventNote) -> Result<(), RepoError> {
        let hub = self.cluster.hub();
        if !hub.up.contains(&self.node) {
            return Err(RepoError::Unavailable("this node is down".into()));
        }
        for (node, handler) in &hub.listeners {
            if *node != self.node && hub.up.contains(node) {
                handler(note.clone());
            }
        }
        Ok(())
    }

    async fn announce_all(&self, notes: &[EventNote]) -> Result<(), RepoError> {
        for note in notes {
            self.announce(note).await?;
        }
        Ok(())
    }

    fn listen(&self, handler: NoteHandler) {
        self.cluster
            .hub()
            .listeners
            .push((self.node.clone(), handler));
    }

    async fn is_alive(&self, node: &str) -> Result<bool, RepoError> {
        Ok(self.cluster.hub().up.contains(node))
    }
}
