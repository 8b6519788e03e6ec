use overseer_domain::SessionId;
use serde_json::Value;

/// One live event of a session, published after it was persisted.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveEvent {
    pub session_id: SessionId,
    /// The persisted message's sequence number, or the last one for events that are not
    /// messages (status changes, approvals), so subscribers can resume with `after=`.
    pub sequence: u64,
    /// `message`, `status`, `approval` …
    pub kind: String,
    pub payload: Value,
}

/// Delivers live events to a session's subscribers. Never blocks the publisher.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait EventBroadcaster: Send + Sync {
    fn publish(&self, event: LiveEvent);
}
