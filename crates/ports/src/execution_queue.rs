use async_trait::async_trait;
use overseer_domain::ExecutionId;

/// Why a queued execution could not be handed over.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue stopped: the node is shutting down.
    #[error("the execution queue is shut down")]
    ShutDown,
    /// The queue's backend failed (the message says how).
    #[error("the execution queue is unavailable: {0}")]
    Unavailable(String),
}

/// Takes `pending` executions and runs them in the background.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ExecutionQueue: Send + Sync {
    /// Hands a stored `pending` execution over; returns at once.
    ///
    /// # Errors
    /// [`QueueError`] if the queue cannot take it (the execution stays `pending`).
    async fn submit(&self, execution: ExecutionId) -> Result<(), QueueError>;
}
