//! The approval's notices (written with the approval's change, in one transaction):
//! `approval.requested` (with its one-tap links when enabled) and `approval.decided`; and the
//! `budget.threshold` notices of a session that reached a budget.

use overseer_domain::{Approval, Delivery, NotificationEvent, SessionId, UserId};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use super::ApprovalGate;
use crate::notifications::Notice;

impl ApprovalGate {
    /// The deliveries of `event` about `approval` for the targets that hear it: written
    /// with the approval's own change, in its transaction. None when nobody hears it (then
    /// nothing more is read) or the targets cannot be read.
    pub(super) async fn notices(
        &self,
        approval: &Approval,
        event: NotificationEvent,
        reason: Option<&str>,
    ) -> Vec<Delivery> {
        let Some(notifications) = &self.notifications else {
            return Vec::new();
        };
        let targets = notifications.hearing(event, approval.user_id).await;
        if targets.is_empty() {
            return Vec::new();
        }
        let session = format!("/api/v1/sessions/{}", approval.session_id);
        let session_name = self
            .deps
            .repos
            .sessions
            .get(approval.session_id, overseer_ports::Scope::Admin)
            .await
            .ok()
            .map(|s| s.name.to_string());
        let mut links = json!({"session": session});
        if event == NotificationEvent::ApprovalRequested {
            links["answer"] = json!(format!("{session}/approvals/{}", approval.id));
            if let Some(signer) = self.links.get() {
                links["approve"] = json!(signer.link(approval, true));
                links["deny"] = json!(signer.link(approval, false));
            }
        }
        let notice = Notice {
            event,
            owner: approval.user_id,
            data: json!({
                "approval_id": approval.id,
                "session_id": approval.session_id,
                "session_name": session_name,
                "kind": approval.kind,
                "tool_name": approval.tool_name,
                "tool_input": approval.tool_input,
                "tool_use_id": approval.tool_use_id,
                "status": approval.status(),
                "reason": reason,
                "decided_by": approval.decided_by,
                "expires_at": approval.expires_at.format(&Rfc3339).unwrap_or_default(),
            }),
            links,
        };
        notifications.deliveries_to(&targets, &notice)
    }

    /// The `budget.threshold` deliveries about `session` for the targets of `owner` that hear
    /// it; `data` says what happened (`action`: `asked` or `stopped`, the limit, the figures).
    pub(super) async fn budget_notices(
        &self,
        session: SessionId,
        owner: UserId,
        mut data: Value,
    ) -> Vec<Delivery> {
        let Some(notifications) = &self.notifications else {
            return Vec::new();
        };
        let event = NotificationEvent::BudgetThreshold;
        let targets = notifications.hearing(event, owner).await;
        if targets.is_empty() {
            return Vec::new();
        }
        data["session_id"] = json!(session);
        let notice = Notice {
            event,
            owner,
            data,
            links: json!({"session": format!("/api/v1/sessions/{session}")}),
        };
        notifications.deliveries_to(&targets, &notice)
    }

    /// Queues `budget.threshold` notices saying that a hard limit stopped `session`'s turn.
    pub async fn notify_budget_stop(&self, session: SessionId, owner: UserId, data: Value) {
        let deliveries = self.budget_notices(session, owner, data).await;
        if let (Some(notifications), false) = (&self.notifications, deliveries.is_empty()) {
            notifications.enqueue(&deliveries).await;
        }
    }
}
