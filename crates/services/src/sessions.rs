//! Sessions: create (interactive or for a task), run a turn, interrupt, terminate, archive.
//! Every status change is persisted (compare-and-set) and broadcast when it happens.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use overseer_domain::{
    AgentOptions, MessageId, NewSession, Session, SessionId, SessionMode, SessionName,
    SessionStatus, UserId,
};
use overseer_domain::{Message, QuotaLimit, ToolCall, UsdBudget};
use overseer_ports::agent::{
    AgentCallbacks, AgentEvent, AgentSession, AgentSpec, ContentBlock, Secret,
};
use overseer_ports::repositories::SessionFilter;
use overseer_ports::{EventBroadcaster, Page, PageRequest, Scope, Telemetry, Workspaces, commands};
use serde_json::json;

use crate::agent_activity::Activity;
use crate::agent_pool::{AgentPool, AgentState};
use crate::agent_runtime::AgentRuntime;
use crate::agent_slots::Slot;
use crate::approvals::ApprovalGate;
use crate::audit::{AuditRecord, AuditService, actions};
use crate::cluster_link::{ClusterLink, NODE_LOST, Route};
use crate::context::{Deps, RequestContext};
use crate::error::ServiceError;
use crate::hooks::SessionHooks;
use crate::live_events::{agent_waiting_event, status_event, turn_failed_event};
use crate::mcp_config::McpConfigBuilder;
use crate::option_rules::OptionRules;
use crate::permissions::SessionPermissions;
use crate::processor::{CostCursor, MessageProcessor};
use crate::quotas::QuotaService;
use crate::tool_tracking::ToolTracker;
use crate::traces::{TracePropagation, TraceSpans};
use crate::warm_pool::WarmPool;
use tracing::Instrument;

/// The output of a tool call whose agent ended before the tool finished.
const AGENT_GONE: &str = "the agent stopped before the tool finished";

/// Most agent events stored in one write: the events already waiting when the session reads
/// are stored together (group commit), so a fast agent costs a commit per batch, not per event.
const EVENTS_PER_WRITE: usize = 256;

/// Whether a turn stores its user message, or another node already did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UserMessage {
    ToStore,
    Stored,
}

/// How one turn ended.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnOutcome {
    /// The stored `result` message.
    pub result_message_id: Option<MessageId>,
    pub is_error: bool,
    /// The agent's final text, or its error.
    pub text: Option<String>,
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
    turn_locks: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<CostCursor>>>>,
}

impl std::fmt::Debug for SessionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

impl SessionService {
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
                    action: actions::SESSION_CREATED,
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

    fn turn_lock(&self, id: SessionId) -> Arc<tokio::sync::Mutex<CostCursor>> {
        self.turn_locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id)
            .or_default()
            .clone()
    }

    /// Persists a status change and announces it.
    async fn move_to(
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
        let sequence = self
            .deps
            .repos
            .sessions
            .get(session.id, Scope::Admin)
            .await?
            .usage
            .message_count;
        self.broadcaster.publish(status_event(
            session.id,
            sequence,
            from,
            to,
            session.error_message.as_deref(),
        ));
        Ok(())
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

    fn callbacks(&self, session: &Session) -> AgentCallbacks {
        let permissions = Arc::new(
            SessionPermissions::new(
                session.id,
                session.user_id,
                session.options.clone(),
                self.audit.clone(),
                self.tracker.clone(),
                Some(self.approvals.clone()),
            )
            .with_telemetry(self.telemetry.clone())
            .with_traces(self.traces.clone()),
        );
        AgentCallbacks {
            permissions: Some(permissions.clone()),
            hooks: Some(Arc::new(SessionHooks {
                session: session.id,
                owner: session.user_id,
                audit: self.audit.clone(),
                tracker: self.tracker.clone(),
                permissions,
            })),
            mcp_servers: self.option_rules.tool_servers.open(&session.options),
        }
    }

    /// Gives the session a live agent, in a turn: its own if it is live; otherwise a slot
    /// (waiting for one visibly while every agent is mid-turn) and a start from `created`
    /// (first start, with the merged MCP configuration stored in its options), `connecting`
    /// (a start that did not finish) or `active` (hibernated, or the service restarted:
    /// resumed with the agent's own session id).
    async fn ensure_agent(
        &self,
        session: &mut Session,
        budget_left: Option<f64>,
    ) -> Result<Arc<dyn AgentSession>, ServiceError> {
        if let Some(agent) = self.pool.checkout(session.id) {
            return Ok(agent);
        }
        // Only a first start may take a warm agent: a later one keeps the session's directory.
        let first_start = session.status() == SessionStatus::Created;
        let workdir = working_directory(session)?;
        let mut options = session.options.clone();
        if first_start {
            options.mcp_servers = self
                .mcp
                .build(
                    self.deps.repos.mcp_servers.as_ref(),
                    session.user_id,
                    &session.options,
                )
                .await?;
        }
        let merged_mcp = options.mcp_servers.clone();
        // The CLI stops itself at --max-budget-usd: no more than what the user has left today.
        if let Some(left) = budget_left {
            let cap = options
                .max_budget_usd
                .map_or(left, |own| own.value().min(left));
            options.max_budget_usd = Some(UsdBudget::new(cap)?);
        }
        let mut env = BTreeMap::new();
        if let Some(traceparent) = self
            .trace_propagation
            .traceparent(&tracing::Span::current())
        {
            env.insert("TRACEPARENT".to_owned(), Secret::new(traceparent));
        }
        let mut spec = AgentSpec {
            working_directory: workdir,
            options,
            env,
            resume: session.agent_session_id.clone(),
        };
        let activity = Activity::default();
        let callbacks = activity.watch(self.callbacks(session));
        let warm = if first_start {
            self.warm.take(&spec, &callbacks)
        } else {
            None
        };
        let (slot, warm) = match warm {
            Some(warm) => (warm.slot, Some((warm.agent, warm.working_directory))),
            None => (self.wait_for_slot(session).await?, None),
        };
        session.options.mcp_servers = merged_mcp;
        if session.status() != SessionStatus::Connecting {
            self.move_to(session, SessionStatus::Connecting, None)
                .await?;
        }
        let agent = match warm {
            Some((agent, warm_directory)) => {
                // The warm agent runs in a directory of its own: the session moves there.
                let own = std::mem::replace(&mut spec.working_directory, warm_directory);
                session.working_directory_path = Some(spec.working_directory.display().to_string());
                self.pool
                    .adopt(session.id, slot, spec, callbacks, activity, agent.clone())
                    .await;
                if let Err(err) = self.workspaces.discard(&own).await {
                    tracing::warn!(session = %session.id, error = %err, "cannot remove an unused working directory");
                }
                agent
            }
            None => {
                self.pool
                    .launch(session.id, slot, spec, callbacks, activity)
                    .await?
            }
        };
        self.move_to(session, SessionStatus::Active, None).await?;
        Ok(agent)
    }

    /// A slot for the session's agent; while it waits, subscribers hear its place in the queue.
    async fn wait_for_slot(&self, session: &Session) -> Result<Slot, ServiceError> {
        let sequence = session.usage.message_count;
        let broadcaster = &self.broadcaster;
        let slot = self
            .pool
            .reserve(session.id, |position| {
                broadcaster.publish(agent_waiting_event(session.id, sequence, position));
            })
            .await?;
        Ok(slot)
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

    /// Sends `text` and processes the answer until the turn ends. The session must be in
    /// `created`, `active` or `connecting`.
    ///
    /// # Errors
    /// [`ServiceError::SessionNotActive`]; on an agent or storage failure the session is
    /// `failed` and the error returned.
    #[tracing::instrument(skip(self, ctx, text), fields(session = %id))]
    pub async fn run_turn(
        &self,
        ctx: &RequestContext,
        id: SessionId,
        text: &str,
    ) -> Result<TurnOutcome, ServiceError> {
        self.run_turn_for(ctx, id, text, UserMessage::ToStore).await
    }

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
                self.command(commands::DELIVER_MESSAGE, id, stored.sequence_number, node)
                    .await
            }
            Route::Lost => Err(self.lose(id).await),
        }
    }

    /// Runs the turn for a user message another node stored and delivered here.
    ///
    /// # Errors
    /// As [`SessionService::run_turn`]; `NotFound` if the message is missing.
    pub async fn run_delivered(
        &self,
        id: SessionId,
        sequence: u64,
    ) -> Result<TurnOutcome, ServiceError> {
        let owner = self.owner(id).await?;
        let stored = self
            .deps
            .repos
            .messages
            .list_after(id, sequence.saturating_sub(1), 1)
            .await?;
        let text = stored
            .first()
            .filter(|m| m.sequence_number == sequence)
            .and_then(MessageProcessor::user_text)
            .ok_or_else(|| {
                ServiceError::Conflict(format!("no user message {sequence} to deliver"))
            })?
            .to_owned();
        self.run_turn_for(
            &RequestContext::internal(owner),
            id,
            &text,
            UserMessage::Stored,
        )
        .await
    }

    async fn route(&self, session: &Session) -> Result<Route, ServiceError> {
        match &self.cluster {
            Some(cluster) => cluster.route(session).await,
            None => Ok(Route::Here),
        }
    }

    async fn command(
        &self,
        kind: &str,
        id: SessionId,
        sequence: u64,
        node: String,
    ) -> Result<(), ServiceError> {
        match &self.cluster {
            Some(cluster) => cluster.send(kind, id, sequence, None, Some(node)).await,
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

    async fn run_turn_for(
        &self,
        ctx: &RequestContext,
        id: SessionId,
        text: &str,
        user_message: UserMessage,
    ) -> Result<TurnOutcome, ServiceError> {
        let lock = self.turn_lock(id);
        let mut cost = lock.lock().await;
        let session = self.deps.repos.sessions.get(id, ctx.scope()).await?;
        if !session.status().accepts_messages() {
            return Err(ServiceError::SessionNotActive {
                status: session.status(),
            });
        }
        // Over quota: refused, and the session stays as it is.
        let budget_left = self.quotas.remaining_budget(session.user_id).await?;
        let sequence = session.usage.message_count;
        match self
            .turn(session, text, user_message, &mut cost, budget_left)
            .await
        {
            Ok(outcome) => Ok(outcome),
            // No agent could start: the session is as it was, ready for the next message.
            Err(err @ ServiceError::AgentCapacity { .. }) => {
                self.broadcaster.publish(turn_failed_event(
                    id,
                    sequence,
                    &err.to_string(),
                    Some("agent_start_timeout_seconds"),
                ));
                Err(err)
            }
            Err(err) => {
                self.fail(id, &format!("{err}")).await;
                Err(err)
            }
        }
    }

    /// One turn in a `gen_ai.turn` span (OpenTelemetry GenAI attributes), which the agent's
    /// start, its tool calls and their approvals nest under.
    async fn turn(
        &self,
        session: Session,
        text: &str,
        user_message: UserMessage,
        cost: &mut CostCursor,
        budget_left: Option<f64>,
    ) -> Result<TurnOutcome, ServiceError> {
        let id = session.id;
        let model = session
            .options
            .model
            .as_ref()
            .map(|m| m.as_str().to_owned());
        let span = tracing::info_span!(
            "gen_ai.turn",
            gen_ai.operation.name = "invoke_agent",
            gen_ai.system = "anthropic",
            gen_ai.request.model = model.as_deref().unwrap_or("default"),
            gen_ai.response.model = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            session.id = %id,
        );
        self.traces.turn_began(id, span.clone());
        let outcome = self
            .traced_turn(session, text, user_message, cost, budget_left)
            .instrument(span)
            .await;
        self.traces.turn_ended(id);
        outcome
    }

    async fn traced_turn(
        &self,
        mut session: Session,
        text: &str,
        user_message: UserMessage,
        cost: &mut CostCursor,
        budget_left: Option<f64>,
    ) -> Result<TurnOutcome, ServiceError> {
        let began = std::time::Instant::now();
        let agent = self.ensure_agent(&mut session, budget_left).await?;
        let ready = began.elapsed();
        self.move_to(&mut session, SessionStatus::Processing, None)
            .await?;
        if user_message == UserMessage::ToStore {
            self.processor.user_message(session.id, text).await?;
        }
        agent.send_message(text).await?;
        let sent = began.elapsed();
        let outcome = self.follow(&session, agent.as_ref(), cost).await?;
        tracing::debug!(?ready, ?sent, answered = ?began.elapsed(), "turn timings");
        self.telemetry
            .turn_finished(began.elapsed(), outcome.is_error);
        self.pool.turn_finished(session.id).await;
        self.move_to(&mut session, SessionStatus::Active, None)
            .await?;
        Ok(outcome)
    }

    /// Records every event of the turn until its result.
    async fn follow(
        &self,
        session: &Session,
        agent: &dyn AgentSession,
        cost: &mut CostCursor,
    ) -> Result<TurnOutcome, ServiceError> {
        let id = session.id;
        let process = agent.process_id();
        loop {
            let events = agent.next_events(EVENTS_PER_WRITE).await;
            if events.is_empty() {
                return Err(ServiceError::Agent(
                    overseer_ports::agent::AgentError::Closed,
                ));
            }
            let messages = self
                .processor
                .handle_all(id, &events, cost, process)
                .await?;
            // `next_events` stops at the event that ends the turn, so it can only be last.
            for (event, message) in events.into_iter().zip(messages) {
                match &event {
                    AgentEvent::Assistant(block) => {
                        if let ContentBlock::ToolUse { id: tool, name, .. } = &block.block {
                            drop(self.traces.tool(id, tool, name));
                        }
                    }
                    AgentEvent::ToolResult(result) => {
                        self.traces.tool_ended(id, &result.tool_use_id)
                    }
                    _ => {}
                }
                match event {
                    AgentEvent::TurnEnded(result) => {
                        self.quotas
                            .record_cost(session.user_id, cost.last_turn_usd)
                            .await?;
                        let model = answering_model(&result, session);
                        let span = tracing::Span::current();
                        span.record("gen_ai.response.model", model.as_str());
                        // As signed integers: exporters keep them as numbers, not text.
                        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                        span.record(
                            "gen_ai.usage.input_tokens",
                            count(result.usage.input_tokens),
                        );
                        span.record(
                            "gen_ai.usage.output_tokens",
                            count(result.usage.output_tokens),
                        );
                        self.telemetry.tokens_used(
                            &model,
                            result.usage.input_tokens,
                            result.usage.output_tokens,
                            cost.last_turn_usd,
                        );
                        let text = if result.is_error {
                            result
                                .result
                                .clone()
                                .or_else(|| Some(format!("the turn ended with {}", result.subtype)))
                        } else {
                            result.result.clone()
                        };
                        return Ok(TurnOutcome {
                            result_message_id: message.map(|m| m.id),
                            is_error: result.is_error,
                            text,
                        });
                    }
                    AgentEvent::Failed(failure) => {
                        return Err(ServiceError::Agent(
                            overseer_ports::agent::AgentError::Exited {
                                exit_code: failure.exit_code,
                                stderr_tail: failure.message,
                            },
                        ));
                    }
                    _ => {}
                }
            }
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
        self.quotas.remaining_budget(session.user_id).await?;
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
            Route::There(node) => self.command(commands::INTERRUPT, id, 0, node).await,
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
        self.audit_session(ctx, actions::SESSION_TERMINATED, id)
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
        self.audit_session(ctx, actions::SESSION_ARCHIVED, id)
            .await?;
        Ok(session)
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

    async fn audit_session(
        &self,
        ctx: &RequestContext,
        action: &str,
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

    /// Stops the agent of a session whose work is done (it can be resumed later).
    pub async fn release_agent(&self, id: SessionId) {
        self.pool.release(id).await;
        self.tracker.forget(id);
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

/// The model that answered a turn, as the CLI reports it (`modelUsage`), else the session's.
fn answering_model(result: &overseer_ports::agent::TurnResult, session: &Session) -> String {
    result
        .raw
        .get("modelUsage")
        .and_then(serde_json::Value::as_object)
        .and_then(|models| models.keys().next().cloned())
        .or_else(|| {
            session
                .options
                .model
                .as_ref()
                .map(|m| m.as_str().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn working_directory(session: &Session) -> Result<std::path::PathBuf, ServiceError> {
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
    use overseer_ports::agent::MockAgentRunner;
    use overseer_ports::{MockWorkspaces, RandomIds, SystemClock};
    use overseer_testkit::{MemoryStore, fixtures};

    use super::*;
    use crate::broadcast::InProcessBroadcaster;

    async fn service() -> (Arc<SessionService>, RequestContext, Deps) {
        let repos = MemoryStore::new().repositories();
        let owner = fixtures::user("a@example.com");
        repos.users.insert(&owner).await.unwrap();
        let deps = Deps {
            repos,
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
        };
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
