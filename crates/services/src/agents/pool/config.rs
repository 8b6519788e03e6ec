//! The pool's bounds, each with its one default, and what happens past them.

use std::time::Duration;

use overseer_ports::agent::AgentError;

/// Bounds of the pool.
#[derive(Clone, Copy, Debug)]
pub struct PoolConfig {
    /// Live agent processes at most, warm agents included.
    pub max_live: usize,
    /// An agent with no turn in progress for this long is closed (and resumed on demand).
    pub idle_timeout: Duration,
    /// How long a start may wait for a slot while every live agent is mid-turn.
    pub start_timeout: Duration,
}

impl PoolConfig {
    /// The default bound on live agents.
    pub const DEFAULT_MAX_LIVE: usize = 4;
    /// The default idle timeout.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
    /// The default start timeout.
    pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(120);
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_live: Self::DEFAULT_MAX_LIVE,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            start_timeout: Self::DEFAULT_START_TIMEOUT,
        }
    }
}

/// Why the pool could not give a session an agent.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The agent failed to start.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// Every live agent stayed mid-turn for the whole start timeout.
    #[error(
        "no agent slot came free within {seconds} s (agent_start_timeout_seconds): every live agent is in a turn"
    )]
    StartTimeout {
        /// The start timeout that passed.
        seconds: u64,
    },
}

impl From<PoolError> for crate::error::ServiceError {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Agent(err) => Self::Agent(err),
            PoolError::StartTimeout { seconds } => Self::AgentCapacity { seconds },
        }
    }
}
