//! The outbox worker: sends due deliveries, signed with their target's secret, and records
//! each attempt (retried with backoff, given up after the last).

use std::sync::Arc;
use std::time::Duration;

use overseer_domain::Delivery;
use overseer_ports::NotificationSender;
use overseer_ports::Scope;

use crate::context::Deps;
use crate::signing::{SIGNATURE_HEADER, TIMESTAMP_HEADER, hmac_sha256_hex, signed_message};

/// How the worker claims.
#[derive(Clone, Copy, Debug)]
pub struct OutboxConfig {
    /// Deliveries claimed at once.
    pub batch: u32,
    /// How long a claim holds a delivery: well past what a batch's attempts take (they run
    /// at once, each bounded by the sender's timeout), so two nodes never send one delivery
    /// at the same time; a node that dies leaves its claims due again after this.
    pub lease: Duration,
    /// How often the worker looks for due deliveries.
    pub every: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            batch: 16,
            lease: Duration::from_secs(30),
            every: Duration::from_millis(500),
        }
    }
}

/// Sends the outbox's due deliveries.
pub struct Outbox {
    deps: Deps,
    sender: Arc<dyn NotificationSender>,
    config: OutboxConfig,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// A worker reading the outbox through `deps` and sending with `sender`.
    #[must_use]
    pub fn new(deps: Deps, sender: Arc<dyn NotificationSender>, config: OutboxConfig) -> Self {
        Self {
            deps,
            sender,
            config,
        }
    }

    /// One pass: claims the due deliveries and attempts each; returns how many were
    /// attempted.
    pub async fn deliver_due(&self) -> usize {
        let now = self.deps.clock.now();
        let claimed = match self
            .deps
            .repos
            .notifications
            .claim_due(now, now + self.config.lease, self.config.batch)
            .await
        {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim due notifications");
                return 0;
            }
        };
        let attempted = claimed.len();
        // At once: a slow receiver holds up only its own delivery, and the batch ends within
        // one attempt's time, well inside the lease.
        futures_util::future::join_all(claimed.into_iter().map(|d| self.attempt(d))).await;
        attempted
    }

    async fn attempt(&self, mut delivery: Delivery) {
        let target = match self
            .deps
            .repos
            .notifications
            .get_target(delivery.target_id, Scope::Admin)
            .await
        {
            Ok(target) => target,
            // Deleted meanwhile: its deliveries went with it.
            Err(err) => {
                tracing::debug!(delivery = %delivery.id, error = %err, "a delivery's target is gone");
                return;
            }
        };
        let body = delivery.body.to_string().into_bytes();
        let signed_at = self.deps.clock.now().unix_timestamp();
        let timestamp = signed_at.to_string();
        let signed = signed_message(signed_at, &body);
        // Signed as inbound webhooks are: HMAC-SHA256 over "<timestamp>.<body>".
        let signature = format!(
            "sha256={}",
            hmac_sha256_hex(target.secret.as_bytes(), &signed)
        );
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("x-overseer-event", delivery.event.as_str().to_owned()),
            ("x-overseer-delivery", delivery.id.to_string()),
            (TIMESTAMP_HEADER, timestamp),
            (SIGNATURE_HEADER, signature),
        ]
        .map(|(name, value)| (name.to_owned(), value));
        let outcome = self.sender.post(target.url.as_str(), &headers, body).await;
        let now = self.deps.clock.now();
        match outcome {
            Ok(status) if (200..300).contains(&status) => delivery.delivered(now),
            Ok(status) => delivery.attempt_failed(format!("the receiver answered {status}"), now),
            Err(reason) => delivery.attempt_failed(reason, now),
        }
        if let Err(err) = self.deps.repos.notifications.record(&delivery).await {
            tracing::warn!(delivery = %delivery.id, error = %err, "cannot record a delivery attempt");
        }
    }

    /// Runs [`Outbox::deliver_due`] every `config.every` until the task is aborted.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    #[must_use]
    pub fn spawn(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.config.every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // A full batch: more may be due at once.
                while self.deliver_due().await == self.config.batch as usize {}
            }
        })
    }
}
