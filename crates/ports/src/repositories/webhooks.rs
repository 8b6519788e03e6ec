use async_trait::async_trait;
use overseer_domain::TaskId;
use time::OffsetDateTime;

use crate::RepoError;

/// Tasks' webhook signing secrets, and the signatures already accepted (replay protection).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookRepository: Send + Sync {
    /// The task's signing secret, if one was issued.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn secret(&self, task: TaskId) -> Result<Option<String>, RepoError>;

    /// Stores the task's signing secret, replacing any previous one.
    ///
    /// # Errors
    /// `NotFound` if the task does not exist.
    async fn set_secret(
        &self,
        task: TaskId,
        secret: &str,
        now: OffsetDateTime,
    ) -> Result<(), RepoError>;

    /// Records an accepted signature; `false` if it was recorded before (a replay). Racing
    /// deliveries of one signature: exactly one gets `true`.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn record_receipt(
        &self,
        task: TaskId,
        signature: &str,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError>;

    /// Forgets receipts older than `before` (their timestamps are outside the window anyway);
    /// returns how many.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn prune_receipts(&self, before: OffsetDateTime) -> Result<u64, RepoError>;
}
