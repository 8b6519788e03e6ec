//! The turn engine: give the session a live agent (waiting visibly for a slot), store the user
//! message, send it, and record every event until the result, in a `gen_ai.turn` span.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};

use overseer_domain::UsdBudget;
use overseer_domain::{Session, SessionId, SessionStatus, TaskId};
use overseer_ports::agent::{
    AgentCallbacks, AgentEvent, AgentSession, AgentSpec, ContentBlock, Secret,
};

use super::{SessionService, TurnOutcome, working_directory};
use crate::agents::slots::Slot;
use crate::callbacks::activity::Activity;
use crate::callbacks::hooks::SessionHooks;
use crate::callbacks::permissions::SessionPermissions;
use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::events::live::{agent_waiting_event, turn_failed_event};
use crate::quotas::{Allowance, TaskSpend};
use crate::sessions::budget::{Cap, TurnState};
use crate::sessions::processor::CostCursor;
use tracing::Instrument;

/// Most agent events stored in one write: the events already waiting when the session reads
/// are stored together (group commit), so a fast agent costs a commit per batch, not per event.
const EVENTS_PER_WRITE: usize = 256;

/// Whether a turn stores its user message, or another node already did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UserMessage {
    ToStore,
    Stored,
}

impl SessionService {
    fn turn_lock(&self, id: SessionId) -> Arc<tokio::sync::Mutex<TurnState>> {
        self.turn_locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id)
            .or_default()
            .clone()
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
                deps: self.deps.clone(),
                broadcaster: self.broadcaster.clone(),
            })),
            mcp_servers: self.option_rules.tool_servers.open(&session.options),
        }
    }

    /// Gives the session a live agent, in a turn: its own if it is live; otherwise a slot
    /// (waiting for one visibly while every agent is mid-turn) and a start from `created`
    /// (first start, with the merged MCP configuration stored in its options), `connecting`
    /// (a start that did not finish) or `active` (hibernated, or the service restarted:
    /// resumed with the agent's own session id). A started agent gets `budget` as its
    /// `--max-budget-usd`; whether one was started is returned with it.
    async fn ensure_agent(
        &self,
        session: &mut Session,
        budget: Option<f64>,
    ) -> Result<(Arc<dyn AgentSession>, bool), ServiceError> {
        if let Some(agent) = self.pool.checkout(session.id) {
            return Ok((agent, false));
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
        // The CLI stops itself at --max-budget-usd (see `budget`).
        if let Some(budget) = budget {
            options.max_budget_usd = Some(UsdBudget::new(budget)?);
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
            fork: session.starts_as_fork(),
            resume_at: session
                .forked_from
                .as_ref()
                .filter(|_| session.starts_as_fork())
                .and_then(|fork| fork.at_message.clone()),
        };
        let activity = Activity::default();
        let callbacks = activity.watch(self.callbacks(session));
        // A warm agent holds no conversation: a fork's first start needs its own.
        let warm = if first_start && spec.resume.is_none() {
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
        Ok((agent, true))
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
        self.run_turn_for(ctx, id, text, UserMessage::ToStore, None)
            .await
    }

    /// Runs the turn of a run of `task`: its cost also counts for the task, against the
    /// task's monthly budget.
    ///
    /// # Errors
    /// As [`SessionService::run_turn`].
    pub async fn run_task_turn(
        &self,
        ctx: &RequestContext,
        id: SessionId,
        text: &str,
        task: TaskSpend,
    ) -> Result<TurnOutcome, ServiceError> {
        self.run_turn_for(ctx, id, text, UserMessage::ToStore, Some(task))
            .await
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
            .and_then(overseer_domain::Message::user_text)
            .ok_or_else(|| {
                ServiceError::Conflict(format!("no user message {sequence} to deliver"))
            })?
            .to_owned();
        self.run_turn_for(
            &RequestContext::internal(owner),
            id,
            &text,
            UserMessage::Stored,
            None,
        )
        .await
    }

    async fn run_turn_for(
        &self,
        ctx: &RequestContext,
        id: SessionId,
        text: &str,
        user_message: UserMessage,
        task: Option<TaskSpend>,
    ) -> Result<TurnOutcome, ServiceError> {
        let lock = self.turn_lock(id);
        let mut state = lock.lock().await;
        let session = self.deps.repos.sessions.get(id, ctx.scope()).await?;
        if !session.status().accepts_messages() {
            return Err(ServiceError::SessionNotActive {
                status: session.status(),
            });
        }
        // Over quota: refused, and the session stays as it is.
        let allowance = self.quotas.allowance(session.user_id, task).await?;
        let sequence = session.usage.message_count;
        match self
            .turn(session, text, user_message, &mut state, allowance, task)
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
        state: &mut TurnState,
        allowance: Allowance,
        task: Option<TaskSpend>,
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
            .traced_turn(session, text, user_message, state, allowance, task)
            .instrument(span)
            .await;
        self.traces.turn_ended(id);
        outcome
    }

    /// One message to the agent (started under `cap` if it is not live) and everything it
    /// does until its result.
    pub(super) async fn pass(
        &self,
        session: &mut Session,
        text: &str,
        user_message: UserMessage,
        state: &mut TurnState,
        cap: Option<Cap>,
        task: Option<TaskSpend>,
    ) -> Result<TurnOutcome, ServiceError> {
        let began = std::time::Instant::now();
        let (agent, started) = self.ensure_agent(session, cap.map(|cap| cap.usd)).await?;
        if started {
            state.cap = cap;
        }
        self.move_to(session, SessionStatus::Processing, None)
            .await?;
        if user_message == UserMessage::ToStore {
            let stored = self.processor.user_message(session.id, text).await?;
            session.usage.message_count = stored.sequence_number;
        }
        agent.send_message(text).await?;
        let outcome = self
            .follow(
                session,
                agent.as_ref(),
                &mut state.cost,
                task.map(|t| t.task),
            )
            .await?;
        self.telemetry
            .turn_finished(began.elapsed(), outcome.is_error);
        self.pool.turn_finished(session.id).await;
        self.move_to(session, SessionStatus::Active, None).await?;
        Ok(outcome)
    }

    /// Records every event of the turn until its result, keeping `session`'s message count
    /// with what it stores (this turn is the session's only writer of messages).
    async fn follow(
        &self,
        session: &mut Session,
        agent: &dyn AgentSession,
        cost: &mut CostCursor,
        task: Option<TaskId>,
    ) -> Result<TurnOutcome, ServiceError> {
        let id = session.id;
        let process = agent.process_id();
        loop {
            let mut events = agent.next_events(EVENTS_PER_WRITE).await;
            if events.is_empty() {
                return Err(ServiceError::Agent(
                    overseer_ports::agent::AgentError::Closed,
                ));
            }
            let messages = self
                .processor
                .handle_all(id, &mut events, cost, process)
                .await?;
            if let Some(last) = messages.iter().flatten().last() {
                session.usage.message_count = last.sequence_number;
            }
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
                            .record_cost(session.user_id, task, cost.last_turn_usd)
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
                            structured_output: result.structured_output.clone(),
                            stopped_at_budget: result.hit_budget(),
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
}

/// The model that answered a turn, as the agent reports it, else the session's.
fn answering_model(result: &overseer_ports::agent::TurnResult, session: &Session) -> String {
    result
        .model
        .clone()
        .or_else(|| {
            session
                .options
                .model
                .as_ref()
                .map(|m| m.as_str().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
