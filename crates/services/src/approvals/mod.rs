//! Approvals for `ask` rules: the tool use waits while a pending approval is stored and
//! broadcast; the session's owner answers through [`ApprovalGate::decide`]; without an answer
//! it expires to a deny after the configured time.

mod links;
mod notices;

use overseer_domain::AuditAction;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use overseer_domain::{
    Approval, ApprovalId, ApprovalStatus, Delivery, NotificationEvent, SessionId, UserId,
};
use overseer_ports::agent::PermissionRequest;
use overseer_ports::{Command, EventBroadcaster, RepoError};
use serde_json::json;
use tokio::sync::oneshot;

use crate::audit::{AuditRecord, AuditService};
use crate::cluster::link::ClusterLink;
use crate::context::{Deps, RequestContext};
use crate::error::ServiceError;
use crate::events::live::approval_event;
use crate::notifications::NotificationService;

use links::LinkSigner;

/// How an approval ended, for the waiting tool use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalOutcome {
    Allowed {
        by: UserId,
    },
    Denied {
        by: UserId,
    },
    Expired,
    /// The approval could not even be asked for (storage failure …): deny.
    Failed(String),
}

/// Tool uses waiting for a person: asked, answered (here or on another node), expired.
pub struct ApprovalGate {
    deps: Deps,
    audit: AuditService,
    broadcaster: Arc<dyn EventBroadcaster>,
    timeout: Duration,
    waiting: Mutex<HashMap<ApprovalId, oneshot::Sender<ApprovalOutcome>>>,
    /// With several nodes: where answers for another node's waiters are announced.
    cluster: Option<ClusterLink>,
    /// Where `approval.requested` / `approval.decided` notices go, if anywhere.
    notifications: Option<NotificationService>,
    /// Signs the one-tap links of `approval.requested` notices, once the HTTP API that
    /// answers them exists.
    links: OnceLock<LinkSigner>,
}

impl std::fmt::Debug for ApprovalGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalGate")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ApprovalGate {
    /// The gate over `deps`, announcing on `broadcaster`; approvals expire after `timeout`.
    #[must_use]
    pub fn new(
        deps: Deps,
        audit: AuditService,
        broadcaster: Arc<dyn EventBroadcaster>,
        timeout: Duration,
    ) -> Self {
        Self {
            deps,
            audit,
            broadcaster,
            timeout,
            waiting: Mutex::new(HashMap::new()),
            cluster: None,
            notifications: None,
            links: OnceLock::new(),
        }
    }

    /// Queues a notice for each approval asked and answered.
    #[must_use]
    pub fn with_notifications(mut self, notifications: NotificationService) -> Self {
        self.notifications = Some(notifications);
        self
    }

    /// Announces answers whose waiter is on another node over `cluster`.
    #[must_use]
    pub fn with_cluster(mut self, cluster: Option<ClusterLink>) -> Self {
        self.cluster = cluster;
        self
    }

    /// Another node stored an answer to `id`: hands it to the waiter here, if there is one.
    pub async fn wake(&self, id: ApprovalId) {
        let Some(waiter) = self.waiting().remove(&id) else {
            return;
        };
        match self
            .deps
            .repos
            .approvals
            .get(id, overseer_ports::Scope::Admin)
            .await
        {
            Ok(stored) if stored.status() != ApprovalStatus::Pending => {
                let _ = waiter.send(outcome_of(&stored));
            }
            Ok(_) => {
                self.waiting().insert(id, waiter);
            }
            Err(err) => {
                tracing::error!(approval = %id, error = %err, "cannot read an answered approval");
                self.waiting().insert(id, waiter);
            }
        }
    }

    fn waiting(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ApprovalId, oneshot::Sender<ApprovalOutcome>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the session's owner and waits for the answer or the timeout.
    pub async fn ask(
        &self,
        session: SessionId,
        owner: UserId,
        request: &PermissionRequest,
        reason: &str,
    ) -> ApprovalOutcome {
        match self.try_ask(session, owner, request, reason).await {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::error!(session = %session, error = %err, "cannot ask for an approval");
                ApprovalOutcome::Failed("the approval could not be requested".to_owned())
            }
        }
    }

    async fn try_ask(
        &self,
        session: SessionId,
        owner: UserId,
        request: &PermissionRequest,
        reason: &str,
    ) -> Result<ApprovalOutcome, ServiceError> {
        let now = self.deps.clock.now();
        let approval = Approval::pending(
            ApprovalId::from_uuid(self.deps.ids.new_id()),
            session,
            owner,
            request.tool_use_id.clone(),
            request.tool_name.clone(),
            request.input.clone(),
            now,
            now + self.timeout,
        );
        let audit = AuditRecord {
            actor: Some(owner),
            action: AuditAction::ToolApprovalRequested,
            resource_type: "approval",
            resource_id: Some(approval.id.to_string()),
            details: json!({"session_id": session, "tool_name": request.tool_name, "reason": reason}),
        };
        self.wait_for_answer(approval, reason, Vec::new(), audit)
            .await
    }

    /// Asks whether `session`, which has cost `spent_usd`, may go on past its owner's soft
    /// budget threshold `threshold_usd`, and waits for the answer or the timeout. The
    /// `budget.threshold` notices are written with the approval.
    pub async fn ask_budget(
        &self,
        session: SessionId,
        owner: UserId,
        threshold_usd: f64,
        spent_usd: f64,
    ) -> ApprovalOutcome {
        let now = self.deps.clock.now();
        let approval = Approval::budget(
            ApprovalId::from_uuid(self.deps.ids.new_id()),
            session,
            owner,
            threshold_usd,
            spent_usd,
            now,
            now + self.timeout,
        );
        let reason = format!("continue past ${threshold_usd:.2}? ${spent_usd:.4} spent");
        let threshold = self
            .budget_notices(
                session,
                owner,
                json!({
                    "action": "asked",
                    "limit": "ask_above_usd",
                    "threshold_usd": threshold_usd,
                    "spent_usd": spent_usd,
                    "approval_id": approval.id,
                }),
            )
            .await;
        let audit = AuditRecord {
            actor: Some(owner),
            action: AuditAction::BudgetApprovalRequested,
            resource_type: "approval",
            resource_id: Some(approval.id.to_string()),
            details: json!({"session_id": session, "threshold_usd": threshold_usd, "spent_usd": spent_usd}),
        };
        match self
            .wait_for_answer(approval, &reason, threshold, audit)
            .await
        {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::error!(session = %session, error = %err, "cannot ask to go past a budget");
                ApprovalOutcome::Failed("the approval could not be requested".to_owned())
            }
        }
    }

    /// Stores `approval` (with its `approval.requested` notices and `extra` deliveries, in one
    /// transaction), audits `audit`, announces it and waits for the answer or the timeout.
    async fn wait_for_answer(
        &self,
        approval: Approval,
        reason: &str,
        extra: Vec<Delivery>,
        audit: AuditRecord<'_>,
    ) -> Result<ApprovalOutcome, ServiceError> {
        let session = approval.session_id;
        let (answer_tx, answer_rx) = oneshot::channel();
        self.waiting().insert(approval.id, answer_tx);
        let mut notices = self
            .notices(
                &approval,
                NotificationEvent::ApprovalRequested,
                Some(reason),
            )
            .await;
        notices.extend(extra);
        if let Err(err) = self.deps.repos.approvals.insert(&approval, &notices).await {
            self.waiting().remove(&approval.id);
            return Err(err.into());
        }
        self.audit.record(audit, None).await?;
        let sequence = self
            .deps
            .repos
            .sessions
            .get(session, overseer_ports::Scope::Admin)
            .await?
            .usage
            .message_count;
        self.broadcaster
            .publish(approval_event(&approval, sequence, Some(reason)));
        let outcome = match tokio::time::timeout(self.timeout, answer_rx).await {
            Ok(Ok(outcome)) => outcome,
            _ => self.expire(approval).await?,
        };
        Ok(outcome)
    }

    /// Lets an unanswered approval lapse. If an answer won the race, that answer stands.
    async fn expire(&self, mut approval: Approval) -> Result<ApprovalOutcome, ServiceError> {
        self.waiting().remove(&approval.id);
        approval
            .resolve(ApprovalStatus::Expired, None, self.deps.clock.now())
            .map_err(ServiceError::from)?;
        let notices = self
            .notices(&approval, NotificationEvent::ApprovalDecided, None)
            .await;
        match self
            .deps
            .repos
            .approvals
            .update(&approval, ApprovalStatus::Pending, &notices)
            .await
        {
            Ok(()) => Ok(ApprovalOutcome::Expired),
            Err(RepoError::Conflict { .. }) => {
                let stored = self
                    .deps
                    .repos
                    .approvals
                    .get(approval.id, overseer_ports::Scope::Admin)
                    .await?;
                Ok(outcome_of(&stored))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Lets every pending approval of `session` lapse: the session has ended (failed, or its
    /// node was lost), so nobody can act on an answer any more.
    pub async fn expire_pending(&self, session: SessionId) {
        let pending = match self.deps.repos.approvals.list_pending(session).await {
            Ok(pending) => pending,
            Err(err) => {
                tracing::error!(session = %session, error = %err, "cannot list pending approvals");
                return;
            }
        };
        for approval in pending {
            let id = approval.id;
            let waiter = self.waiting().remove(&id);
            match self.expire(approval).await {
                Ok(outcome) => {
                    if let Some(waiter) = waiter {
                        let _ = waiter.send(outcome);
                    }
                }
                Err(err) => {
                    tracing::error!(approval = %id, error = %err, "cannot expire an approval");
                }
            }
        }
    }

    /// The owner's answer.
    ///
    /// # Errors
    /// `NotFound` for someone else's or a missing approval; `Conflict` if it was already
    /// answered or expired.
    pub async fn decide(
        &self,
        ctx: &RequestContext,
        id: ApprovalId,
        allow: bool,
    ) -> Result<Approval, ServiceError> {
        // Only the owner answers, admins included: an approval is the owner's decision.
        let mut approval = self
            .deps
            .repos
            .approvals
            .get(id, overseer_ports::Scope::Owner(ctx.user_id))
            .await?;
        let to = if allow {
            ApprovalStatus::Allowed
        } else {
            ApprovalStatus::Denied
        };
        approval
            .resolve(to, Some(ctx.user_id), self.deps.clock.now())
            .map_err(|_| {
                ServiceError::Conflict(
                    "the approval was already answered or has expired".to_owned(),
                )
            })?;
        let notices = self
            .notices(&approval, NotificationEvent::ApprovalDecided, None)
            .await;
        self.deps
            .repos
            .approvals
            .update(&approval, ApprovalStatus::Pending, &notices)
            .await?;
        let waiter = self.waiting().remove(&id);
        if let Some(waiter) = waiter {
            let _ = waiter.send(outcome_of(&approval));
        } else if let Some(cluster) = &self.cluster {
            // The agent that asked runs on another node.
            cluster
                .send(
                    Command::ApprovalAnswered { approval_id: id },
                    approval.session_id,
                    0,
                    None,
                )
                .await?;
        }
        Ok(approval)
    }
}

fn outcome_of(approval: &Approval) -> ApprovalOutcome {
    match (approval.status(), approval.decided_by) {
        (ApprovalStatus::Allowed, Some(by)) => ApprovalOutcome::Allowed { by },
        (ApprovalStatus::Denied, Some(by)) => ApprovalOutcome::Denied { by },
        _ => ApprovalOutcome::Expired,
    }
}

/// A gate over a memory store holding one user and their session, and the live events it
/// publishes.
#[cfg(test)]
pub(crate) struct TestWorld {
    pub(crate) repos: overseer_ports::Repositories,
    pub(crate) owner: overseer_domain::User,
    pub(crate) session: overseer_domain::Session,
    pub(crate) gate: Arc<ApprovalGate>,
    pub(crate) events: tokio::sync::mpsc::UnboundedReceiver<overseer_ports::LiveEvent>,
}

#[cfg(test)]
impl TestWorld {
    pub(crate) async fn new() -> Self {
        use overseer_testkit::{MemoryStore, fixtures};
        let repos = MemoryStore::new().repositories();
        let owner = fixtures::user("owner@example.com");
        repos.users.insert(&owner).await.unwrap();
        let session = fixtures::session(owner.id, fixtures::EPOCH);
        repos.sessions.insert(&session).await.unwrap();
        let deps = Deps::system(repos.clone());
        let mut broadcaster = overseer_ports::MockEventBroadcaster::new();
        let (seen_tx, events) = tokio::sync::mpsc::unbounded_channel();
        broadcaster.expect_publish().returning(move |event| {
            let _ = seen_tx.send(event);
        });
        let gate = Arc::new(ApprovalGate::new(
            deps.clone(),
            AuditService::new(deps),
            Arc::new(broadcaster),
            Duration::from_secs(30),
        ));
        Self {
            repos,
            owner,
            session,
            gate,
            events,
        }
    }

    /// Asks for an approval of `command` on a task of its own; the answer comes out of it.
    pub(crate) fn ask(&self, command: &str) -> tokio::task::JoinHandle<ApprovalOutcome> {
        let request = PermissionRequest {
            tool_name: "Bash".into(),
            input: json!({"command": command}),
            tool_use_id: Some("toolu_1".into()),
            blocked_path: None,
        };
        let (gate, session, owner) = (self.gate.clone(), self.session.id, self.owner.id);
        tokio::spawn(async move { gate.ask(session, owner, &request, "needs approval").await })
    }
}

#[cfg(test)]
mod tests {
    use overseer_testkit::fixtures;

    use super::*;

    #[tokio::test]
    async fn only_the_owner_answers_and_only_once() {
        let mut world = TestWorld::new().await;
        let asking = world.ask("rm -rf x");
        let (gate, owner, seen) = (world.gate.clone(), world.owner.clone(), &mut world.events);
        let event = seen.recv().await.unwrap();
        assert_eq!(event.kind().as_str(), "approval");
        let id: ApprovalId = event.payload()["approval_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();

        let stranger = RequestContext::internal(fixtures::user("x@example.com").id);
        assert!(matches!(
            gate.decide(&stranger, id, true).await,
            Err(ServiceError::NotFound { .. })
        ));
        let ctx = RequestContext::internal(owner.id);
        gate.decide(&ctx, id, false).await.unwrap();
        assert_eq!(
            asking.await.unwrap(),
            ApprovalOutcome::Denied { by: owner.id }
        );
        assert!(
            matches!(
                gate.decide(&ctx, id, true).await,
                Err(ServiceError::Conflict(_))
            ),
            "answered once"
        );
        let stored = world
            .repos
            .approvals
            .get(id, overseer_ports::Scope::Admin)
            .await
            .unwrap();
        assert_eq!(stored.status(), ApprovalStatus::Denied);
        assert_eq!(stored.decided_by, Some(owner.id));
    }
}
