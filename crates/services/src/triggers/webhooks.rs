//! Webhook triggers: `POST /hooks/tasks/{id}` runs the task with the JSON body as its
//! variables, if the request is signed with the task's secret.
//!
//! The signature is `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` in
//! [`SIGNATURE_HEADER`](crate::SIGNATURE_HEADER), with the Unix time of signing in [`TIMESTAMP_HEADER`](crate::TIMESTAMP_HEADER). A request
//! outside [`WebhookService::WINDOW`] of the service's clock, or whose signature was accepted
//! before (a replay), is refused as unauthorized, as are unknown tasks and bad signatures —
//! all alike, so a caller learns nothing about which tasks exist.

use overseer_domain::AuditAction;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use overseer_domain::{TaskExecution, TaskId, TriggerType, ValidationError};
use overseer_ports::Scope;
use serde_json::{Value, json};

use crate::audit::{AuditRecord, AuditService};
use crate::context::{Deps, RequestContext};
use crate::error::ServiceError;
use crate::signing::{signed_message, verify};
use crate::tasks::TaskService;

/// One incoming webhook request, as received.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    /// The task the webhook runs.
    pub task: TaskId,
    /// The timestamp header's value.
    pub timestamp: Option<&'a str>,
    /// The signature header's value.
    pub signature: Option<&'a str>,
    /// The raw body (its JSON object's keys are the run's variables).
    pub body: &'a [u8],
    /// The sender's address, for the audit trail.
    pub ip_address: Option<&'a str>,
    /// The sender's user agent, for the audit trail.
    pub user_agent: Option<&'a str>,
}

/// Signed inbound webhooks that run tasks.
pub struct WebhookService {
    deps: Deps,
    audit: AuditService,
    tasks: Arc<TaskService>,
}

impl std::fmt::Debug for WebhookService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookService").finish_non_exhaustive()
    }
}

impl WebhookService {
    /// How far a request's timestamp may be from the service's clock, either way.
    pub const WINDOW: Duration = Duration::from_secs(300);

    /// The service over `deps`, running tasks through `tasks`.
    #[must_use]
    pub fn new(deps: Deps, tasks: Arc<TaskService>) -> Self {
        Self {
            audit: AuditService::new(deps.clone()),
            deps,
            tasks,
        }
    }

    /// Issues a new signing secret for the task (replacing any earlier one) and returns it:
    /// the only time it is shown.
    ///
    /// # Errors
    /// `NotFound` for a missing task or someone else's.
    pub async fn rotate_secret(
        &self,
        ctx: &RequestContext,
        task: TaskId,
    ) -> Result<String, ServiceError> {
        let task = self.deps.repos.tasks.get(task, ctx.scope()).await?;
        // 244 random bits from the OS generator.
        let secret = format!(
            "whsec_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        self.deps
            .repos
            .webhooks
            .set_secret(task.id, &secret, self.deps.clock.now())
            .await?;
        let record = AuditRecord {
            actor: Some(ctx.user_id),
            action: AuditAction::TaskWebhookSecretRotated,
            resource_type: "task",
            resource_id: Some(task.id.to_string()),
            details: json!({}),
        };
        self.audit.record(record, Some(ctx)).await?;
        Ok(secret)
    }

    /// Checks a delivery and, if it holds, queues a run with `trigger_type = webhook` on the
    /// task owner's behalf.
    ///
    /// # Errors
    /// `Unauthorized` for a missing or wrong signature or timestamp, a replay, or an unknown
    /// task; a validation error if the body is not a JSON object; then whatever running the
    /// task refuses (inactive task, bad variables, quota).
    pub async fn receive(&self, delivery: Delivery<'_>) -> Result<TaskExecution, ServiceError> {
        let now = self.deps.clock.now();
        let timestamp: i64 = delivery
            .timestamp
            .and_then(|t| t.trim().parse().ok())
            .ok_or(ServiceError::Unauthorized)?;
        let window = i64::try_from(Self::WINDOW.as_secs()).unwrap_or(i64::MAX);
        if (now.unix_timestamp() - timestamp).abs() > window {
            return Err(ServiceError::Unauthorized);
        }
        let signature = delivery.signature.ok_or(ServiceError::Unauthorized)?;
        let secret = self
            .deps
            .repos
            .webhooks
            .secret(delivery.task)
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        if !verify(
            &secret,
            &signed_message(timestamp, delivery.body),
            signature,
        ) {
            return Err(ServiceError::Unauthorized);
        }
        // Receipts outlive the window twice over: an older timestamp is refused above.
        let horizon = now - Self::WINDOW * 2;
        self.deps.repos.webhooks.prune_receipts(horizon).await?;
        if !self
            .deps
            .repos
            .webhooks
            .record_receipt(delivery.task, signature, now)
            .await?
        {
            return Err(ServiceError::Unauthorized);
        }
        let variables = variables(delivery.body)?;
        let task = self
            .deps
            .repos
            .tasks
            .get(delivery.task, Scope::Admin)
            .await?;
        let ctx = RequestContext {
            user_id: task.user_id,
            is_admin: false,
            ip_address: delivery.ip_address.map(str::to_owned),
            user_agent: delivery.user_agent.map(str::to_owned),
        };
        let execution = self
            .tasks
            .execute(&ctx, task.id, variables, TriggerType::Webhook)
            .await?;
        let record = AuditRecord {
            actor: None,
            action: AuditAction::TaskWebhookTriggered,
            resource_type: "task_execution",
            resource_id: Some(execution.id.to_string()),
            details: json!({"task_id": task.id}),
        };
        self.audit.record(record, Some(&ctx)).await?;
        Ok(execution)
    }
}

/// The body as the run's variables: a JSON object (an empty body means none).
fn variables(body: &[u8]) -> Result<BTreeMap<String, Value>, ServiceError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(BTreeMap::new());
    }
    serde_json::from_slice(body).map_err(|_| {
        ServiceError::Validation(ValidationError::new(
            "body",
            "must be a JSON object of variables",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::hmac_sha256_hex;

    /// The signature header value for `body` sent at `timestamp` (Unix seconds).
    fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
        format!(
            "sha256={}",
            hmac_sha256_hex(secret.as_bytes(), &signed_message(timestamp, body))
        )
    }

    #[test]
    fn a_signature_verifies_only_for_its_secret_timestamp_and_body() {
        let signature = sign("s3cret", 1_700_000_000, br#"{"a":1}"#);
        let message = signed_message(1_700_000_000, br#"{"a":1}"#);
        assert!(verify("s3cret", &message, &signature));
        assert!(!verify("other", &message, &signature));
        assert!(!verify(
            "s3cret",
            &signed_message(1_700_000_001, br#"{"a":1}"#),
            &signature
        ));
        assert!(!verify(
            "s3cret",
            &signed_message(1_700_000_000, br#"{"a":2}"#),
            &signature
        ));
        assert!(!verify("s3cret", &message, "sha256=zz"));
        assert!(!verify(
            "s3cret",
            &message,
            &signature.replace("sha256=", "")
        ));
    }

    #[test]
    fn the_body_must_be_a_json_object_or_empty() {
        assert!(variables(b"").unwrap().is_empty());
        assert_eq!(variables(br#"{"x": 1}"#).unwrap()["x"], json!(1));
        assert!(variables(b"[1]").is_err());
        assert!(variables(b"not json").is_err());
    }
}
