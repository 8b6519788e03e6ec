//! Sessions: create (interactive or for a task), run a turn, interrupt, terminate, archive.
//! Every status change is persisted (compare-and-set) and broadcast when it happens.
//!
//! `mod.rs` holds the service and its reads; [`turn`] the turn engine (an agent for the
//! session, the user message, every event until the result); [`control`] what else happens to
//! a session: messages routed to the node that hosts it, interrupt, terminate, archive, and
//! the settling of turns whose node died.

pub(crate) mod approval_lists;
mod budget;
mod control;
mod fork;
pub(crate) mod processor;
pub(crate) mod remote_commands;
pub(crate) mod stream;
mod turn;

use overseer_domain::AuditAction;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use overseer_domain::{
    AgentOptions, MessageId, NewSession, Session, SessionId, SessionMode, SessionName,
    SessionStatus, UserId,
};
use overseer_domain::{Message, QuotaLimit, ToolCall};
use overseer_ports::repositories::SessionFilter;
use overseer_ports::{EventBroadcaster, Page, PageRequest, Scope, Telemetry, Workspaces};
use serde_json::json;

use crate::agents::mcp_config::McpConfigBuilder;
use crate::agents::option_rules::OptionRules;
use crate::agents::pool::{AgentPool, AgentState};
use crate::agents::runtime::AgentRuntime;
use crate::agents::warm::WarmPool;
use crate::approvals::ApprovalGate;
use crate::audit::{AuditRecord, AuditService};
use crate::callbacks::tool_tracking::ToolTracker;
use crate::cluster::link::ClusterLink;
use crate::context::{Deps, RequestContext};
use crate::error::ServiceError;
use crate::events::live::status_event;
use crate::quotas::QuotaService;
use crate::sessions::processor::MessageProcessor;
use crate::traces::{TracePropagation, TraceSpans};

/// The output of a tool call whose agent ended before the tool finished.
pub(super) const AGENT_GONE: &str = "the agent stopped before the tool finished";

/// How one turn ended.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnOutcome {
    /// The stored `result` message.
    pub result_message_id: Option<MessageId>,
    /// Whether the turn ended in an error.
    pub is_error: bool,
    /// The agent's final text, or its error.
    pub text: Option<String>,
    /// The turn's structured result (with an output schema).
    pub structured_output: Option<serde_json::Value>,
    /// The turn ended at a budget (`text` says which, and why it did not go on).
    pub stopped_at_budget: bool,
}

/// What a session service is built from.
#[allow(missing_debug_implementations)] // trait objects only
pub struct SessionServiceParts {
    pub deps: Deps,
    pub pool: Arc<AgentPool>,
    /// Agents started ahead of demand, for first starts.
    pub warm: Arc<WarmPool>,
    pub workspaces: Arc<dyn Workspaces>,
    pub broadcaster: Arc<dyn EventBroadcaster>,
    pub mcp: McpConfigBuilder,
    pub approvals: Arc<ApprovalGate>,
    pub telemetry: Arc<dyn Telemetry>,
    pub quotas: Arc<QuotaService>,
    /// This node's name, recorded as the host of the sessions it creates.
    pub node: String,
    /// The other nodes, when there are any.
    pub cluster: Option<ClusterLink>,
    /// Interactive sessions a user may have open (not yet ended) at once.
    pub max_open_sessions: u32,
    /// What sessions' options must satisfy here; also serves their built-in tool servers.
    pub option_rules: OptionRules,
    /// Whether this node can run agents; messages are refused when it cannot.
    pub runtime: AgentRuntime,
    /// Turn and tool call spans, shared with the permission callbacks.
    pub traces: TraceSpans,
    /// Hands each turn's trace context to its agent (`TRACEPARENT`), when on.
    pub trace_propagation: TracePropagation,
}

/// Sessions: create, run turns, interrupt, terminate, archive, read.
pub struct SessionService {
    deps: Deps,
    audit: AuditService,
    pool: Arc<AgentPool>,
    warm: Arc<WarmPool>,
    workspaces: Arc<dyn Workspaces>,
    broadcaster: Arc<dyn EventBroadcaster>,
    mcp: McpConfigBuilder,
    approvals: Arc<ApprovalGate>,
    tracker: Arc<ToolTracker>,
    processor: MessageProcessor,
    telemetry: Arc<dyn Telemetry>,
    quotas: Arc<QuotaService>,
    node: String,
    cluster: Option<ClusterLink>,
    max_open_sessions: u32,
    option_rules: OptionRules,
    runtime: AgentRuntime,
    traces: TraceSpans,
    trace_propagation: TracePropagation,
    /// Held from counting a user's open sessions to inserting a new one, so that racing
    /// creations on this node cannot both pass the cap.
    creating: tokio::sync::Mutex<()>,
    /// One turn at a time per session.
    turn_locks: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<budget::TurnState>>>>,
}

impl std::fmt::Debug for SessionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

impl SessionService {
    /// The service from its parts.
    #[must_use]
    pub fn new(parts: SessionServiceParts) -> Self {
        let tracker =
            Arc::new(ToolTracker::new(parts.deps.clone()).with_telemetry(parts.telemetry.clone()));
        let processor = MessageProcessor::new(
            parts.deps.clone(),
            tracker.clone(),
            parts.broadcaster.clone(),
        );
        Self {
            audit: AuditService::new(parts.deps.clone()),
            deps: parts.deps,
            pool: parts.pool,
            warm: parts.warm,
            workspaces: parts.workspaces,
            broadcaster: parts.broadcaster,
            mcp: parts.mcp,
            approvals: parts.approvals,
            tracker,
            processor,
            telemetry: parts.telemetry,
            quotas: parts.quotas,
            node: parts.node,
            cluster: parts.cluster,
            max_open_sessions: parts.max_open_sessions,
            option_rules: parts.option_rules,
            runtime: parts.runtime,
            traces: parts.traces,
            trace_propagation: parts.trace_propagation,
            creating: tokio::sync::Mutex::new(()),
            turn_locks: Mutex::new(HashMap::new()),
        }
    }

    /// Creates a session in `created` with its own working directory.
    ///
    /// # Errors
    /// [`ServiceError::Validation`], [`ServiceError::Files`], storage errors.
    #[tracing::instrument(skip_all, fields(user = %ctx.user_id))]
    pub async fn create(
        &self,
        ctx: &RequestContext,
        name: SessionName,
        description: Option<String>,
        mode: SessionMode,
        options: AgentOptions,
    ) -> Result<Session, ServiceError> {
        self.option_rules.check(&options)?;
        let id = SessionId::from_uuid(self.deps.ids.new_id());
        let new = NewSession {
            user_id: ctx.user_id,
            name,
            description,
            mode,
            options,
        };
        let mut session = Session::new(id, new, self.deps.clock.now())?;
        session.host_node = Some(self.node.clone());
        let creating = if mode == SessionMode::Interactive {
            let creating = self.creating.lock().await;
            self.check_open_sessions(ctx.user_id).await?;
            Some(creating)
        } else {
            None
        };
        let workdir = self.workspaces.create(id).await?;
        session.working_directory_path = Some(workdir.display().to_string());
        self.deps.repos.sessions.insert(&session).await?;
        drop(creating);
        self.audit
            .record(
                AuditRecord {
                    actor: Some(ctx.user_id),
                    action: AuditAction::SessionCreated,
                    resource_type: "session",
                    resource_id: Some(id.to_string()),
                    details: json!({"name": session.name, "mode": session.mode}),
                },
                Some(ctx),
            )
            .await?;
        Ok(session)
    }

    /// # Errors
    /// `NotFound` if missing or someone else's.
    pub async fn get(&self, ctx: &RequestContext, id: SessionId) -> Result<Session, ServiceError> {
        Ok(self.deps.repos.sessions.get(id, ctx.scope()).await?)
    }

    /// The caller's sessions, newest first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list(
        &self,
        ctx: &RequestContext,
        page: PageRequest,
    ) -> Result<Page<Session>, ServiceError> {
        Ok(self
            .deps
            .repos
            .sessions
            .list(ctx.scope(), SessionFilter::default(), page)
            .await?)
    }

    /// How many sessions (everybody's) are in each status, for metrics.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn count_by_status(&self) -> Result<Vec<(SessionStatus, usize)>, ServiceError> {
        let mut counts = Vec::with_capacity(SessionStatus::ALL.len());
        for &status in SessionStatus::ALL {
            let filter = SessionFilter {
                status: Some(status),
                ..SessionFilter::default()
            };
            let total = self
                .deps
                .repos
                .sessions
                .list(Scope::Admin, filter, PageRequest::first(1))
                .await?
                .total;
            counts.push((status, usize::try_from(total).unwrap_or(usize::MAX)));
        }
        Ok(counts)
    }

    /// Messages after sequence `after`, in order.
    ///
    /// # Errors
    /// `NotFound` for someone else's session.
    pub async fn messages(
        &self,
        ctx: &RequestContext,
        id: SessionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Message>, ServiceError> {
        self.deps.repos.sessions.get(id, ctx.scope()).await?;
        Ok(self
            .deps
            .repos
            .messages
            .list_after(id, after, limit)
            .await?)
    }

    /// The CLI's own transcript of the session (JSON lines, the last `max_bytes` of it).
    ///
    /// # Errors
    /// `NotFound` for someone else's session, or one without a transcript yet.
    pub async fn transcript(
        &self,
        ctx: &RequestContext,
        id: SessionId,
        max_bytes: usize,
    ) -> Result<Vec<u8>, ServiceError> {
        let session = self.deps.repos.sessions.get(id, ctx.scope()).await?;
        let (Some(agent_id), Some(workdir)) =
            (&session.agent_session_id, &session.working_directory_path)
        else {
            return Err(ServiceError::NotFound {
                entity: "transcript",
            });
        };
        self.pool
            .transcript(std::path::Path::new(workdir), agent_id, max_bytes)
            .await
            .map_err(|_| ServiceError::NotFound {
                entity: "transcript",
            })
    }

    /// The session's tool calls in call order.
    ///
    /// # Errors
    /// `NotFound` for someone else's session.
    pub async fn tool_calls(
        &self,
        ctx: &RequestContext,
        id: SessionId,
        page: PageRequest,
    ) -> Result<Page<ToolCall>, ServiceError> {
        self.deps.repos.sessions.get(id, ctx.scope()).await?;
        Ok(self
            .deps
            .repos
            .tool_calls
            .list_for_session(id, page)
            .await?)
    }

    /// Persists a status change and announces it at `session`'s message count, which the
    /// caller keeps current (read with the session, or advanced by the turn that stores the
    /// messages): no re-read.
    pub(super) async fn move_to(
        &self,
        session: &mut Session,
        to: SessionStatus,
        reason: Option<&str>,
    ) -> Result<(), ServiceError> {
        let now = self.deps.clock.now();
        let from = match reason {
            Some(reason) if to == SessionStatus::Failed => session.fail(reason, now)?,
            _ => session.transition_to(to, now)?,
        };
        self.deps
            .repos
            .sessions
            .update_status(session, from)
            .await?;
        self.broadcaster.publish(status_event(
            session.id,
            session.usage.message_count,
            from,
            to,
            session.error_message.as_deref(),
        ));
        Ok(())
    }

    /// Where the session's agent stands: live, starting, waiting (with its place in the queue)
    /// or hibernated; `None` for a session whose agent never started or has ended, and for one
    /// another node hosts (only that node knows).
    #[must_use]
    pub fn agent_state(&self, session: &Session) -> Option<AgentState> {
        if session
            .host_node
            .as_deref()
            .is_some_and(|host| host != self.node)
        {
            return None;
        }
        if !session.status().is_live() {
            return None;
        }
        self.pool.state(session.id).or_else(|| {
            session
                .agent_session_id
                .is_some()
                .then_some(AgentState::Hibernated)
        })
    }

    /// Refuses a new interactive session while the user has `max_open_sessions` open. Task
    /// sessions are bounded by the runs quota instead.
    async fn check_open_sessions(&self, user: UserId) -> Result<(), ServiceError> {
        let open = SessionFilter {
            mode: Some(SessionMode::Interactive),
            live_only: true,
            ..SessionFilter::default()
        };
        let count = self
            .deps
            .repos
            .sessions
            .list(Scope::Owner(user), open, PageRequest::first(1))
            .await?
            .total;
        if count >= u64::from(self.max_open_sessions) {
            return Err(ServiceError::QuotaExceeded {
                limit: QuotaLimit::MaxOpenSessions,
                detail: format!(
                    "{count} interactive sessions are open, the most allowed is {}: terminate one first",
                    self.max_open_sessions
                ),
            });
        }
        Ok(())
    }

    pub(super) async fn audit_session(
        &self,
        ctx: &RequestContext,
        action: AuditAction,
        id: SessionId,
    ) -> Result<(), ServiceError> {
        let record = AuditRecord {
            actor: Some(ctx.user_id),
            action,
            resource_type: "session",
            resource_id: Some(id.to_string()),
            details: json!({}),
        };
        self.audit.record(record, Some(ctx)).await
    }

    /// The session owner's user id (for the executor, which runs on the owner's behalf).
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn owner(&self, id: SessionId) -> Result<UserId, ServiceError> {
        Ok(self
            .deps
            .repos
            .sessions
            .get(id, Scope::Admin)
            .await?
            .user_id)
    }
}

pub(super) fn working_directory(session: &Session) -> Result<std::path::PathBuf, ServiceError> {
    session
        .working_directory_path
        .as_ref()
        .map(std::path::PathBuf::from)
        .ok_or(ServiceError::Conflict(
            "the session has no working directory".to_owned(),
        ))
}

#[cfg(test)]
mod tests {
    use overseer_domain::SessionName;
    use overseer_ports::MockWorkspaces;
    use overseer_ports::agent::MockAgentRunner;
    use overseer_testkit::{MemoryStore, fixtures};

    use super::*;
    use crate::events::broadcast::InProcessBroadcaster;

    async fn service() -> (Arc<SessionService>, RequestContext, Deps) {
        let repos = MemoryStore::new().repositories();
        let owner = fixtures::user("a@example.com");
        repos.users.insert(&owner).await.unwrap();
        let deps = Deps::system(repos);
        let mut workspaces = MockWorkspaces::new();
        workspaces
            .expect_create()
            .returning(|id| Ok(format!("/tmp/overseer-mock/{id}").into()));
        workspaces
            .expect_archive()
            .returning(|id, _| Ok(format!("/tmp/overseer-mock/archives/{id}").into()));
        // No agent may start in these tests.
        let adapters = crate::wiring::Adapters {
            deps: deps.clone(),
            runner: Arc::new(MockAgentRunner::new()),
            workspaces: Arc::new(workspaces),
            report_files: Arc::new(overseer_ports::MockReportFiles::new()),
            report_renderer: Arc::new(overseer_reports::DocumentRenderer),
            calendar: Arc::new(overseer_calendar::CronCalendar),
            broadcaster: Arc::new(InProcessBroadcaster::default()),
            telemetry: Arc::new(overseer_ports::NoTelemetry),
            cluster: None,
        };
        let service =
            crate::wiring::Services::build(adapters, crate::wiring::ServicesConfig::default())
                .sessions;
        (service, RequestContext::internal(owner.id), deps)
    }

    async fn new_session(service: &SessionService, ctx: &RequestContext) -> Session {
        service
            .create(
                ctx,
                SessionName::new("s").unwrap(),
                None,
                SessionMode::Interactive,
                AgentOptions::default(),
            )
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_message_to_an_ended_session_is_refused() {
        let (service, ctx, _) = service().await;
        let session = new_session(&service, &ctx).await;
        service.terminate(&ctx, session.id).await.unwrap();
        let err = service
            .run_turn(&ctx, session.id, "hello")
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ServiceError::SessionNotActive {
                    status: SessionStatus::Terminated
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn archive_needs_an_ended_session_and_moves_its_workdir() {
        let (service, ctx, deps) = service().await;
        let session = new_session(&service, &ctx).await;
        assert!(matches!(
            service.archive(&ctx, session.id).await,
            Err(ServiceError::InvalidTransition(_))
        ));
        service.terminate(&ctx, session.id).await.unwrap();
        let archived = service.archive(&ctx, session.id).await.unwrap();
        assert_eq!(archived.status(), SessionStatus::Archived);
        let stored = deps
            .repos
            .sessions
            .get(session.id, Scope::Admin)
            .await
            .unwrap();
        assert!(stored.working_directory_path.unwrap().contains("archives"));
    }

    #[tokio::test]
    async fn someone_elses_session_is_not_found() {
        let (service, ctx, _) = service().await;
        let session = new_session(&service, &ctx).await;
        let stranger = RequestContext::internal(fixtures::user("b@example.com").id);
        assert!(matches!(
            service.get(&stranger, session.id).await,
            Err(ServiceError::NotFound { .. })
        ));
        assert!(matches!(
            service.run_turn(&stranger, session.id, "hi").await,
            Err(ServiceError::NotFound { .. })
        ));
    }
}
