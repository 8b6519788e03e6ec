use async_trait::async_trait;
use overseer_domain::{
    Delivery, NotificationEvent, NotificationTarget, NotificationTargetId, UserId,
};
use time::OffsetDateTime;

use crate::{Page, PageRequest, RepoError, Scope};

/// Notification targets, and the outbox of their deliveries.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait NotificationRepository: Send + Sync {
    /// Stores a new target.
    ///
    /// # Errors
    /// `AlreadyExists` if the id is taken; `NotFound` if its owner or creator does not exist.
    async fn insert_target(&self, target: &NotificationTarget) -> Result<(), RepoError>;

    /// # Errors
    /// `NotFound` if it does not exist or is outside `scope` (an owner's scope holds the
    /// targets they created).
    async fn get_target(
        &self,
        id: NotificationTargetId,
        scope: Scope,
    ) -> Result<NotificationTarget, RepoError>;

    /// The targets in `scope`, newest first.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list_targets(
        &self,
        scope: Scope,
        page: PageRequest,
    ) -> Result<Page<NotificationTarget>, RepoError>;

    /// Removes a target and its deliveries.
    ///
    /// # Errors
    /// `NotFound` if it does not exist or is outside `scope`.
    async fn delete_target(&self, id: NotificationTargetId, scope: Scope) -> Result<(), RepoError>;

    /// The targets that hear `event` of a resource owned by `user`: the user's own that
    /// list it, and every global one that does.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn targets_hearing(
        &self,
        event: NotificationEvent,
        user: UserId,
    ) -> Result<Vec<NotificationTarget>, RepoError>;

    /// Puts deliveries in the outbox, all or none.
    ///
    /// # Errors
    /// `NotFound` if a target does not exist; `AlreadyExists` if an id is taken.
    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), RepoError>;

    /// Takes up to `limit` pending deliveries due at `now` that no claimer holds, oldest
    /// due first, and holds them until `lease_until`. Claimers racing (several nodes) never
    /// get the same delivery while its lease runs; one whose claimer died is due again when
    /// its lease ends.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Delivery>, RepoError>;

    /// Writes an attempt's outcome (status, attempts, next attempt, last error, delivery
    /// time) and releases the lease.
    ///
    /// # Errors
    /// `NotFound` if the delivery is gone (its target was deleted).
    async fn record(&self, delivery: &Delivery) -> Result<(), RepoError>;

    /// A target's deliveries, newest first.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list_deliveries(
        &self,
        target: NotificationTargetId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, RepoError>;
}
