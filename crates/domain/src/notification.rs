//! Outbound notifications: where a user wants to hear about events, and each delivery of
//! one event to one target, kept until it is sent (at least once, with retries).

use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use crate::agent_options::HttpUrl;
use crate::ids::{DeliveryId, NotificationTargetId, UserId};
use crate::string_enum::string_enum;
use crate::validation::ValidationError;

string_enum!(
    /// What a target can hear about.
    NotificationEvent("events") {
        /// A tool use waits for its owner's answer.
        ApprovalRequested => "approval.requested",
        /// An approval was answered, or expired.
        ApprovalDecided => "approval.decided",
        /// A run ended: completed, failed or cancelled.
        ExecutionFinished => "execution.finished",
        /// A user's spend crossed a threshold.
        BudgetThreshold => "budget.threshold",
    }
);

string_enum!(
    /// How a delivery's body is shaped.
    NotificationFormat("format") {
        /// Overseer's own JSON, signed like inbound webhooks.
        Json => "json",
        /// A Slack incoming-webhook body (blocks).
        Slack => "slack",
    }
);

string_enum!(
    /// Where a delivery is.
    DeliveryStatus("status") {
        /// Waiting for its next attempt.
        Pending => "pending",
        /// The receiver answered 2xx.
        Delivered => "delivered",
        /// Every attempt failed: given up.
        Failed => "failed",
    }
);

/// A URL that hears about events: a user's own, or (made by an admin) everyone's.
#[derive(Clone, Debug, PartialEq)]
pub struct NotificationTarget {
    pub id: NotificationTargetId,
    /// The owner; `None` for a global target (an admin's, hearing every user's events).
    pub owner: Option<UserId>,
    /// Who created it (for a global one, the admin).
    pub created_by: UserId,
    pub url: HttpUrl,
    pub events: Vec<NotificationEvent>,
    pub format: NotificationFormat,
    /// The key deliveries are signed with (HMAC-SHA256); shown once, at creation.
    pub secret: String,
    pub created_at: OffsetDateTime,
}

impl NotificationTarget {
    /// Checks the event list: at least one, none twice.
    ///
    /// # Errors
    /// A [`ValidationError`] on `events`.
    pub fn check_events(events: &[NotificationEvent]) -> Result<(), ValidationError> {
        if events.is_empty() {
            return Err(ValidationError::new("events", "name at least one event"));
        }
        let mut sorted = events.to_vec();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != events.len() {
            return Err(ValidationError::new("events", "an event is listed twice"));
        }
        Ok(())
    }

    /// Whether this target hears `event` of a resource owned by `user`.
    #[must_use]
    pub fn hears(&self, event: NotificationEvent, user: UserId) -> bool {
        self.events.contains(&event) && self.owner.is_none_or(|owner| owner == user)
    }
}

/// The attempts a delivery gets before it is given up.
pub const MAX_DELIVERY_ATTEMPTS: u32 = 8;

/// One event for one target, kept in the outbox until it is delivered or given up.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub target_id: NotificationTargetId,
    pub event: NotificationEvent,
    /// The body as sent (for `json`: the whole signed document).
    pub body: Value,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
}

impl Delivery {
    /// A new delivery, due at once.
    #[must_use]
    pub fn new(
        id: DeliveryId,
        target_id: NotificationTargetId,
        event: NotificationEvent,
        body: Value,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            target_id,
            event,
            body,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            delivered_at: None,
        }
    }

    /// The wait before attempt `attempts + 1` after `attempts` failed ones: 1 s, 2 s, 4 s, …
    /// capped at 5 minutes.
    #[must_use]
    pub fn backoff(attempts: u32) -> Duration {
        let seconds = 1_u64 << attempts.saturating_sub(1).min(16);
        Duration::from_secs(seconds.min(300))
    }

    /// Records a successful attempt.
    pub fn delivered(&mut self, now: OffsetDateTime) {
        self.attempts += 1;
        self.status = DeliveryStatus::Delivered;
        self.delivered_at = Some(now);
        self.last_error = None;
    }

    /// Records a failed attempt: due again after [`Delivery::backoff`], or given up after
    /// [`MAX_DELIVERY_ATTEMPTS`].
    pub fn attempt_failed(&mut self, error: String, now: OffsetDateTime) {
        self.attempts += 1;
        self.last_error = Some(error.chars().take(500).collect());
        if self.attempts >= MAX_DELIVERY_ATTEMPTS {
            self.status = DeliveryStatus::Failed;
        } else {
            self.next_attempt_at = now + Self::backoff(self.attempts);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let waits: Vec<u64> = (1..=10).map(|n| Delivery::backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
    }

    #[test]
    fn a_delivery_is_given_up_after_the_last_attempt() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut delivery = Delivery::new(
            DeliveryId::from_uuid(Uuid::nil()),
            NotificationTargetId::from_uuid(Uuid::nil()),
            NotificationEvent::ApprovalRequested,
            json!({}),
            now,
        );
        delivery.attempt_failed("refused".into(), now);
        assert_eq!(delivery.status, DeliveryStatus::Pending);
        assert_eq!(delivery.next_attempt_at, now + Duration::from_secs(1));
        for _ in 1..MAX_DELIVERY_ATTEMPTS {
            delivery.attempt_failed("refused".into(), now);
        }
        assert_eq!(delivery.status, DeliveryStatus::Failed);
        assert_eq!(delivery.attempts, MAX_DELIVERY_ATTEMPTS);
    }

    #[test]
    fn a_users_target_hears_only_its_events_of_its_owner_and_a_global_one_everyones() {
        let alice = UserId::from_uuid(Uuid::from_u128(1));
        let bob = UserId::from_uuid(Uuid::from_u128(2));
        let mut target = NotificationTarget {
            id: NotificationTargetId::from_uuid(Uuid::nil()),
            owner: Some(alice),
            created_by: alice,
            url: HttpUrl::new("http://127.0.0.1:9/hook").unwrap(),
            events: vec![NotificationEvent::ApprovalRequested],
            format: NotificationFormat::Json,
            secret: "s".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(target.hears(NotificationEvent::ApprovalRequested, alice));
        assert!(!target.hears(NotificationEvent::ApprovalRequested, bob));
        assert!(!target.hears(NotificationEvent::ExecutionFinished, alice));
        target.owner = None;
        assert!(target.hears(NotificationEvent::ApprovalRequested, bob));
        assert!(NotificationTarget::check_events(&[]).is_err());
        assert!(
            NotificationTarget::check_events(&[
                NotificationEvent::ApprovalDecided,
                NotificationEvent::ApprovalDecided
            ])
            .is_err()
        );
    }
}
