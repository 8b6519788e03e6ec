//! Outbound notifications: users' targets, the deliveries an event makes for them, and the
//! outbox worker that sends them.

mod bodies;
mod endings;
mod outbox;

pub(crate) use endings::ExecutionNotices;
pub use outbox::{Outbox, OutboxConfig};

use overseer_domain::{
    AuditAction, Delivery, DeliveryId, HttpUrl, NotificationEvent, NotificationFormat,
    NotificationTarget, NotificationTargetId,
};
use overseer_ports::{Page, PageRequest};
use serde_json::{Value, json};

use crate::audit::{AuditRecord, AuditService};
use crate::context::{Deps, RequestContext};
use crate::error::ServiceError;

/// What a new target asks for.
#[derive(Clone, Debug)]
pub struct NewTarget {
    /// Where deliveries are POSTed.
    pub url: HttpUrl,
    /// What it hears.
    pub events: Vec<NotificationEvent>,
    /// How bodies are shaped.
    pub format: NotificationFormat,
    /// Everyone's events (admins only).
    pub global: bool,
}

/// Something that happened, for the targets that hear it.
#[derive(Clone, Debug)]
pub struct Notice {
    /// What happened.
    pub event: NotificationEvent,
    /// Whose resource it is.
    pub owner: overseer_domain::UserId,
    /// What the event is about (the resource as the API shows it, without secrets).
    pub data: Value,
    /// Where to see it (API paths), by name.
    pub links: Value,
}

/// Targets, and the deliveries events make.
#[derive(Clone, Debug)]
pub struct NotificationService {
    deps: Deps,
    audit: AuditService,
}

impl NotificationService {
    /// The service over `deps`' repositories, auditing through `audit`.
    #[must_use]
    pub fn new(deps: Deps, audit: AuditService) -> Self {
        Self { deps, audit }
    }

    /// Creates a target and returns it with its signing secret (the only time it is shown).
    ///
    /// # Errors
    /// `Forbidden` for a global target asked by a non-admin; validation of `events`.
    pub async fn create_target(
        &self,
        ctx: &RequestContext,
        new: NewTarget,
    ) -> Result<NotificationTarget, ServiceError> {
        if new.global && !ctx.is_admin {
            return Err(ServiceError::Forbidden("only admins create global targets"));
        }
        NotificationTarget::check_events(&new.events)?;
        let target = NotificationTarget {
            id: NotificationTargetId::from_uuid(self.deps.ids.new_id()),
            owner: (!new.global).then_some(ctx.user_id),
            created_by: ctx.user_id,
            url: new.url,
            events: new.events,
            format: new.format,
            // 244 random bits from the OS generator, as for inbound webhooks.
            secret: format!(
                "whsec_{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
            created_at: self.deps.clock.now(),
        };
        self.deps.repos.notifications.insert_target(&target).await?;
        self.audit
            .record(
                AuditRecord {
                    actor: Some(ctx.user_id),
                    action: AuditAction::NotificationTargetCreated,
                    resource_type: "notification_target",
                    resource_id: Some(target.id.to_string()),
                    details: json!({"url": target.url.as_str(), "events": target.events, "global": new.global}),
                },
                Some(ctx),
            )
            .await?;
        Ok(target)
    }

    /// The caller's targets (an admin: every target), newest first.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    pub async fn targets(
        &self,
        ctx: &RequestContext,
        page: PageRequest,
    ) -> Result<Page<NotificationTarget>, ServiceError> {
        Ok(self
            .deps
            .repos
            .notifications
            .list_targets(ctx.scope(), page)
            .await?)
    }

    /// # Errors
    /// `NotFound` for someone else's or a missing target.
    pub async fn target(
        &self,
        ctx: &RequestContext,
        id: NotificationTargetId,
    ) -> Result<NotificationTarget, ServiceError> {
        Ok(self
            .deps
            .repos
            .notifications
            .get_target(id, ctx.scope())
            .await?)
    }

    /// Removes a target and its deliveries.
    ///
    /// # Errors
    /// `NotFound` for someone else's or a missing target.
    pub async fn delete_target(
        &self,
        ctx: &RequestContext,
        id: NotificationTargetId,
    ) -> Result<(), ServiceError> {
        self.deps
            .repos
            .notifications
            .delete_target(id, ctx.scope())
            .await?;
        self.audit
            .record(
                AuditRecord {
                    actor: Some(ctx.user_id),
                    action: AuditAction::NotificationTargetDeleted,
                    resource_type: "notification_target",
                    resource_id: Some(id.to_string()),
                    details: json!({}),
                },
                Some(ctx),
            )
            .await
    }

    /// A target's deliveries, newest first.
    ///
    /// # Errors
    /// `NotFound` for someone else's or a missing target.
    pub async fn deliveries(
        &self,
        ctx: &RequestContext,
        id: NotificationTargetId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, ServiceError> {
        self.target(ctx, id).await?;
        Ok(self
            .deps
            .repos
            .notifications
            .list_deliveries(id, page)
            .await?)
    }

    /// The targets that hear `event` of `owner`'s resources. Asked first, so that a notice
    /// nobody hears costs no more reads; a failure is logged and hears nothing (a notice
    /// never stops what caused it).
    pub async fn hearing(
        &self,
        event: NotificationEvent,
        owner: overseer_domain::UserId,
    ) -> Vec<NotificationTarget> {
        self.deps
            .repos
            .notifications
            .targets_hearing(event, owner)
            .await
            .unwrap_or_else(|err| {
                tracing::error!(event = %event, error = %err, "cannot read notification targets");
                Vec::new()
            })
    }

    /// The deliveries `notice` makes for `targets`: one each, its body shaped for the
    /// target's format.
    #[must_use]
    pub fn deliveries_to(&self, targets: &[NotificationTarget], notice: &Notice) -> Vec<Delivery> {
        let now = self.deps.clock.now();
        targets
            .iter()
            .map(|target| {
                let id = DeliveryId::from_uuid(self.deps.ids.new_id());
                let body = bodies::body(target.format, id, notice, now);
                Delivery::new(id, target.id, notice.event, body, now)
            })
            .collect()
    }

    /// Puts `deliveries` in the outbox on their own (not with the write that caused them).
    /// Never fails its caller: a failure is logged.
    pub async fn enqueue(&self, deliveries: &[Delivery]) {
        if deliveries.is_empty() {
            return;
        }
        if let Err(err) = self.deps.repos.notifications.enqueue(deliveries).await {
            tracing::error!(error = %err, "cannot queue notifications");
        }
    }
}

#[cfg(test)]
mod tests;
