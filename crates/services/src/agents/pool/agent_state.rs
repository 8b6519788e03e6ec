//! Where a session's agent stands, as the API shows it (`agent_state`).

/// Where a session's agent stands on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentState {
    /// Running, with or without a turn in progress.
    Live,
    /// Being started (its slot is granted).
    Starting,
    /// Queued for a slot; `position` 1 is next.
    Waiting {
        /// Place in the queue (1: next).
        position: usize,
    },
    /// No process now; the next message resumes the conversation.
    Hibernated,
}

impl AgentState {
    /// The state's wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Starting => "starting",
            Self::Waiting { .. } => "waiting",
            Self::Hibernated => "hibernated",
        }
    }
}
