//! What happens to a session besides its turns: a message routed to the node that hosts it,
//! interrupt, stop, terminate, archive, failure, and settling the turns of nodes that died.

use overseer_domain::AuditAction;
use std::collections::HashMap;
use std::sync::Arc;

use overseer_domain::{Session, SessionId, SessionStatus};
use overseer_ports::{Command, Scope};

use super::{AGENT_GONE, SessionService, working_directory};
use crate::cluster::link::{NODE_LOST, Route};
use crate::context::RequestContext;
use crate::error::ServiceError;

impl SessionService {
    /// Accepts a message for the session wherever its agent runs: here, the turn starts in
    /// the background; on another node, the message is stored and delivered there.
    ///
    /// # Errors
    /// As [`SessionService::admit_message`]; [`ServiceError::SessionNotActive`] (failed) when
    /// the session's node is gone.
    pub async fn send_message(
        self: &Arc<Self>,
        ctx: RequestContext,
        id: SessionId,
        text: String,
    ) -> Result<(), ServiceError> {
        let session = self.admit_message(&ctx, id).await?;
        match self.route(&session).await? {
            Route::Here => {
                let this = self.clone();
                tokio::spawn(async move {
                    if let Err(err) = this.run_turn(&ctx, id, &text).await {
                        tracing::warn!(session = %id, error = %err, "turn failed");
                    }
                });
                Ok(())
            }
            Route::There(node) => {
                let stored = self.processor.user_message(id, &text).await?;
                self.command(Command::DeliverMessage, id, stored.sequence_number, node)
                    .await
            }
            Route::Lost => Err(self.lose(id).await),
        }
    }

    async fn route(&self, session: &Session) -> Result<Route, ServiceError> {
        match &self.cluster {
            Some(cluster) => cluster.route(session).await,
            None => Ok(Route::Here),
        }
    }

    async fn command(
        &self,
        command: Command,
        id: SessionId,
        sequence: u64,
        node: String,
    ) -> Result<(), ServiceError> {
        match &self.cluster {
            Some(cluster) => cluster.send(command, id, sequence, Some(node)).await,
            None => Ok(()),
        }
    }

    /// This node starts: the turns it had in flight in its previous life died with it. Only
    /// turns last changed before `started` are from that life: the node serves while this runs,
    /// and a turn it has begun since must not be failed with them.
    pub async fn settle_own_restart(&self, started: time::OffsetDateTime) {
        for session in self.in_flight().await {
            if session.host_node.as_deref() == Some(self.node.as_str())
                && session.updated_at < started
            {
                self.fail(session.id, NODE_LOST).await;
            }
        }
    }

    /// Turns in flight on nodes that are down fail with "node lost": their agents are gone.
    pub async fn settle_lost_nodes(&self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let mut down: HashMap<String, bool> = HashMap::new();
        for session in self.in_flight().await {
            let Some(host) = session.host_node.as_deref() else {
                continue;
            };
            if host == self.node {
                continue;
            }
            let is_down = match down.get(host) {
                Some(known) => *known,
                None => {
                    let known = matches!(cluster.route(&session).await, Ok(Route::Lost));
                    down.insert(host.to_owned(), known);
                    known
                }
            };
            if is_down {
                tracing::warn!(session = %session.id, node = host, "failing a turn of a lost node");
                self.fail(session.id, NODE_LOST).await;
            }
        }
    }

    async fn in_flight(&self) -> Vec<Session> {
        self.deps
            .repos
            .sessions
            .in_flight()
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "cannot list the turns in flight");
                Vec::new()
            })
    }

    /// The session's node is gone: the session fails, and the caller hears it ended.
    async fn lose(&self, id: SessionId) -> ServiceError {
        self.fail(id, NODE_LOST).await;
        ServiceError::SessionNotActive {
            status: SessionStatus::Failed,
        }
    }

    /// Whether a message may be sent to the session now: it exists for the caller, accepts
    /// messages, and its owner has budget left today.
    ///
    /// # Errors
    /// `NotFound`; [`ServiceError::SessionNotActive`]; [`ServiceError::QuotaExceeded`].
    pub async fn admit_message(
        &self,
        ctx: &RequestContext,
        id: SessionId,
    ) -> Result<Session, ServiceError> {
        let session = self.deps.repos.sessions.get(id, ctx.scope()).await?;
        if !session.status().accepts_messages() {
            return Err(ServiceError::SessionNotActive {
                status: session.status(),
            });
        }
        // A session hosted elsewhere runs on that node's runtime.
        if session
            .host_node
            .as_deref()
            .is_none_or(|host| host == self.node)
        {
            self.runtime.admit()?;
        }
        self.quotas.allowance(session.user_id, None).await?;
        Ok(session)
    }

    /// Stops the current turn; the session stays usable.
    ///
    /// # Errors
    /// `NotFound`; [`ServiceError::Agent`] if the agent does not answer.
    pub async fn interrupt(&self, ctx: &RequestContext, id: SessionId) -> Result<(), ServiceError> {
        let session = self.deps.repos.sessions.get(id, ctx.scope()).await?;
        match self.route(&session).await? {
            Route::Here => self.interrupt_agent(id).await,
            Route::There(node) => self.command(Command::Interrupt, id, 0, node).await,
            // Nothing runs any more: the session ends instead.
            Route::Lost => {
                self.fail(id, NODE_LOST).await;
                Ok(())
            }
        }
    }

    /// Interrupts a session's current turn on the service's own behalf (cancellation).
    ///
    /// # Errors
    /// [`ServiceError::Agent`] if the agent does not answer.
    pub async fn interrupt_agent(&self, id: SessionId) -> Result<(), ServiceError> {
        self.pool.interrupt(id).await?;
        Ok(())
    }

    /// Stops the session's current turn on the service's behalf: interrupt now, and if the
    /// turn has not ended after `grace`, fail the session (which stops its agent).
    pub async fn stop_turn(&self, id: SessionId, grace: std::time::Duration) {
        if let Err(err) = self.interrupt_agent(id).await {
            tracing::debug!(session = %id, error = %err, "interrupt failed");
        }
        tokio::time::sleep(grace).await;
        if self.is_processing(id).await {
            self.fail(id, "stopped").await;
        }
    }

    /// Whether the session is still answering a message.
    pub async fn is_processing(&self, id: SessionId) -> bool {
        self.deps
            .repos
            .sessions
            .get(id, Scope::Admin)
            .await
            .is_ok_and(|s| s.status() == SessionStatus::Processing)
    }

    /// Ends a live session on request and stops its agent.
    ///
    /// # Errors
    /// `NotFound`; `InvalidTransition` if it has already ended.
    pub async fn terminate(
        &self,
        ctx: &RequestContext,
        id: SessionId,
    ) -> Result<Session, ServiceError> {
        let mut session = self.deps.repos.sessions.get(id, ctx.scope()).await?;
        self.pool.release(id).await;
        self.abandon_tool_calls(id).await;
        self.move_to(&mut session, SessionStatus::Terminated, None)
            .await?;
        self.audit_session(ctx, AuditAction::SessionTerminated, id)
            .await?;
        Ok(session)
    }

    /// Moves an ended session's working directory under the archive.
    ///
    /// # Errors
    /// `NotFound`; `InvalidTransition` unless terminated or failed; [`ServiceError::Files`].
    pub async fn archive(
        &self,
        ctx: &RequestContext,
        id: SessionId,
    ) -> Result<Session, ServiceError> {
        let mut session = self.deps.repos.sessions.get(id, ctx.scope()).await?;
        if !session.status().can_transition(SessionStatus::Archived) {
            return Err(ServiceError::InvalidTransition(
                overseer_domain::InvalidTransition {
                    entity: "session",
                    from: session.status().as_str(),
                    to: SessionStatus::Archived.as_str(),
                },
            ));
        }
        let archived = self
            .workspaces
            .archive(id, &working_directory(&session)?)
            .await?;
        session.working_directory_path = Some(archived.display().to_string());
        self.move_to(&mut session, SessionStatus::Archived, None)
            .await?;
        self.audit_session(ctx, AuditAction::SessionArchived, id)
            .await?;
        Ok(session)
    }

    /// Stops the agent of a session whose work is done (it can be resumed later).
    pub async fn release_agent(&self, id: SessionId) {
        self.pool.release(id).await;
        self.tracker.forget(id);
    }

    /// Marks a live session failed and stops its agent. Used on every error path, so nothing
    /// stays `processing` or `connecting`.
    pub async fn fail(&self, id: SessionId, reason: &str) {
        self.pool.release(id).await;
        self.abandon_tool_calls(id).await;
        self.tracker.forget(id);
        self.approvals.expire_pending(id).await;
        let Ok(mut session) = self.deps.repos.sessions.get(id, Scope::Admin).await else {
            return;
        };
        if !session.status().is_live() {
            return;
        }
        if let Err(err) = self
            .move_to(&mut session, SessionStatus::Failed, Some(reason))
            .await
        {
            tracing::error!(session = %id, error = %err, "cannot mark the session failed");
        }
    }

    /// After the session's agent is gone: its tools in flight will never report a result.
    async fn abandon_tool_calls(&self, id: SessionId) {
        if let Err(err) = self.tracker.abandon_unfinished(id, AGENT_GONE).await {
            tracing::error!(session = %id, error = %err, "cannot end the unfinished tool calls");
        }
    }
}
