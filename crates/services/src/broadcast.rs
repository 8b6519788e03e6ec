//! The in-process event broadcaster: one tokio broadcast channel per session with subscribers.
//! A subscriber that falls behind loses events (and learns it from `RecvError::Lagged`); the
//! publisher never waits.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use overseer_domain::SessionId;
use overseer_ports::{EventBroadcaster, LiveEvent};
use tokio::sync::broadcast;

#[derive(Debug)]
pub struct InProcessBroadcaster {
    channels: Mutex<HashMap<SessionId, broadcast::Sender<LiveEvent>>>,
    capacity: usize,
}

impl InProcessBroadcaster {
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            channels: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Receives the session's events published from now on.
    pub fn subscribe(&self, session: SessionId) -> broadcast::Receiver<LiveEvent> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        channels
            .entry(session)
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .subscribe()
    }
}

impl Default for InProcessBroadcaster {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl EventBroadcaster for InProcessBroadcaster {
    fn publish(&self, event: LiveEvent) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let nobody_listens = channels
            .get(&event.session_id)
            .is_some_and(|sender| sender.send(event.clone()).is_err());
        if nobody_listens {
            channels.remove(&event.session_id);
        }
    }
}
