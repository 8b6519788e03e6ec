use async_trait::async_trait;
use overseer_domain::{
    Delivery, DeliveryId, DeliveryStatus, NotificationEvent, NotificationTarget,
    NotificationTargetId, UserId,
};
use overseer_ports::repositories::NotificationRepository;
use overseer_ports::{Page, PageRequest, RepoError, Scope};
use time::OffsetDateTime;

use super::{MemoryStore, newest_first_page};

const TARGET: &str = "notification target";
const DELIVERY: &str = "delivery";

/// A claimed delivery and when its lease ends.
#[derive(Clone, Debug)]
pub(super) struct Queued {
    pub(super) delivery: Delivery,
    pub(super) lease_until: Option<OffsetDateTime>,
}

impl super::State {
    /// Whether `outbox` can be enqueued: every target exists, no id is taken.
    pub(super) fn check_outbox(&self, outbox: &[Delivery]) -> Result<(), RepoError> {
        for delivery in outbox {
            if !self.notification_targets.contains_key(&delivery.target_id) {
                return Err(RepoError::NotFound { entity: TARGET });
            }
            if self.deliveries.contains_key(&delivery.id) {
                return Err(RepoError::AlreadyExists {
                    entity: DELIVERY,
                    key: "id".to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Enqueues `outbox` (checked with [`Self::check_outbox`]).
    pub(super) fn put_outbox(&mut self, outbox: &[Delivery]) {
        for delivery in outbox {
            self.deliveries.insert(
                delivery.id,
                Queued {
                    delivery: delivery.clone(),
                    lease_until: None,
                },
            );
        }
    }
}

#[async_trait]
impl NotificationRepository for MemoryStore {
    async fn insert_target(&self, target: &NotificationTarget) -> Result<(), RepoError> {
        let mut state = self.lock();
        let users = [Some(target.created_by), target.owner];
        if users
            .into_iter()
            .flatten()
            .any(|u| !state.users.contains_key(&u))
        {
            return Err(RepoError::NotFound { entity: "user" });
        }
        if state.notification_targets.contains_key(&target.id) {
            return Err(RepoError::AlreadyExists {
                entity: TARGET,
                key: "id".to_owned(),
            });
        }
        state.notification_targets.insert(target.id, target.clone());
        Ok(())
    }

    async fn get_target(
        &self,
        id: NotificationTargetId,
        scope: Scope,
    ) -> Result<NotificationTarget, RepoError> {
        self.lock()
            .notification_targets
            .get(&id)
            .filter(|t| scope.permits(t.created_by))
            .cloned()
            .ok_or(RepoError::NotFound { entity: TARGET })
    }

    async fn list_targets(
        &self,
        scope: Scope,
        page: PageRequest,
    ) -> Result<Page<NotificationTarget>, RepoError> {
        let state = self.lock();
        let rows = state
            .notification_targets
            .values()
            .filter(|t| scope.permits(t.created_by))
            .cloned();
        Ok(newest_first_page(
            rows,
            |t| (t.created_at, t.id.as_uuid()),
            page,
        ))
    }

    async fn delete_target(&self, id: NotificationTargetId, scope: Scope) -> Result<(), RepoError> {
        let mut state = self.lock();
        if !state
            .notification_targets
            .get(&id)
            .is_some_and(|t| scope.permits(t.created_by))
        {
            return Err(RepoError::NotFound { entity: TARGET });
        }
        state.notification_targets.remove(&id);
        state.deliveries.retain(|_, q| q.delivery.target_id != id);
        Ok(())
    }

    async fn targets_hearing(
        &self,
        event: NotificationEvent,
        user: UserId,
    ) -> Result<Vec<NotificationTarget>, RepoError> {
        let state = self.lock();
        let mut targets: Vec<NotificationTarget> = state
            .notification_targets
            .values()
            .filter(|t| t.hears(event, user))
            .cloned()
            .collect();
        targets.sort_by_key(|t| (t.created_at, t.id));
        Ok(targets)
    }

    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), RepoError> {
        let mut state = self.lock();
        state.check_outbox(deliveries)?;
        state.put_outbox(deliveries);
        Ok(())
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Delivery>, RepoError> {
        let mut state = self.lock();
        let mut due: Vec<(OffsetDateTime, DeliveryId)> = state
            .deliveries
            .values()
            .filter(|q| {
                q.delivery.status == DeliveryStatus::Pending
                    && q.delivery.next_attempt_at <= now
                    && q.lease_until.is_none_or(|until| until <= now)
            })
            .map(|q| (q.delivery.next_attempt_at, q.delivery.id))
            .collect();
        due.sort();
        due.truncate(limit as usize);
        Ok(due
            .into_iter()
            .filter_map(|(_, id)| {
                let queued = state.deliveries.get_mut(&id)?;
                queued.lease_until = Some(lease_until);
                Some(queued.delivery.clone())
            })
            .collect())
    }

    async fn record(&self, delivery: &Delivery) -> Result<(), RepoError> {
        let mut state = self.lock();
        let queued = state
            .deliveries
            .get_mut(&delivery.id)
            .ok_or(RepoError::NotFound { entity: DELIVERY })?;
        queued.delivery = delivery.clone();
        queued.lease_until = None;
        Ok(())
    }

    async fn list_deliveries(
        &self,
        target: NotificationTargetId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, RepoError> {
        let state = self.lock();
        let rows = state
            .deliveries
            .values()
            .filter(|q| q.delivery.target_id == target)
            .map(|q| q.delivery.clone());
        Ok(newest_first_page(
            rows,
            |d| (d.created_at, d.id.as_uuid()),
            page,
        ))
    }
}
