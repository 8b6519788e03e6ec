//! The runner that takes one claimed execution to its end (the queue worker claims them). Whatever fails, the execution ends
//! `failed` with a reason and its session `failed`: nothing is left `running`.

use overseer_domain::AuditAction;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use overseer_domain::{
    ExecutionId, ExecutionStatus, ExecutionTimeout, OutputFormat, SessionMode, SessionName,
    TaskExecution,
};
use overseer_ports::{Scope, Telemetry};
use serde_json::json;
use tracing::Instrument;

use crate::audit::{AuditRecord, AuditService};
use crate::context::{Deps, RequestContext};
use crate::error::ServiceError;
use crate::quotas::TaskSpend;
use crate::reports::{ReportService, ReportSubject};
use crate::sessions::SessionService;
use crate::traces::TraceSpans;

/// Set when the service shuts down: no new run starts, and a run cut short fails with the
/// reason "shutdown".
#[derive(Debug, Default)]
pub struct Shutdown(std::sync::atomic::AtomicBool);

impl Shutdown {
    pub fn begin(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }

    #[must_use]
    pub fn started(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Why a running execution was asked to stop: the runner ends it `cancelled` or `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Cancelled,
    TimedOut(Duration),
}

/// Executions asked to stop while running, and why. The first reason wins: a run cancelled
/// just before its deadline stays cancelled.
#[derive(Debug, Default)]
pub struct StopRequests(Mutex<HashMap<ExecutionId, StopReason>>);

impl StopRequests {
    pub fn request(&self, id: ExecutionId, reason: StopReason) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id)
            .or_insert(reason);
    }

    /// Why `id` was asked to stop, if it was (and forgets it).
    pub fn take(&self, id: ExecutionId) -> Option<StopReason> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
    }
}

/// Takes one execution from `pending` to its end.
pub struct ExecutionRunner {
    deps: Deps,
    audit: AuditService,
    sessions: Arc<SessionService>,
    reports: Arc<ReportService>,
    stops: Arc<StopRequests>,
    telemetry: Arc<dyn Telemetry>,
    shutdown: Arc<Shutdown>,
    limits: RunLimits,
    traces: TraceSpans,
}

/// What a run needs of its task beyond the template and options: its name and report, from
/// the execution's snapshot; read from the task only for snapshots stored before they were kept.
#[derive(Clone, Debug)]
struct RunPlan {
    name: overseer_domain::TaskName,
    report: Option<overseer_domain::ReportFormat>,
}

/// How long runs may take.
#[derive(Clone, Copy, Debug)]
pub struct RunLimits {
    /// Used when the task sets no timeout.
    pub default_timeout: Duration,
    /// After a stop's interrupt, how long the turn may take to end before the agent is killed.
    pub stop_grace: Duration,
}

impl std::fmt::Debug for ExecutionRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionRunner").finish_non_exhaustive()
    }
}

impl ExecutionRunner {
    #[must_use]
    pub fn new(
        deps: Deps,
        sessions: Arc<SessionService>,
        reports: Arc<ReportService>,
        stops: Arc<StopRequests>,
        telemetry: Arc<dyn Telemetry>,
        shutdown: Arc<Shutdown>,
        limits: RunLimits,
    ) -> Self {
        Self {
            audit: AuditService::new(deps.clone()),
            deps,
            sessions,
            reports,
            stops,
            telemetry,
            shutdown,
            limits,
            traces: TraceSpans::default(),
        }
    }

    /// Keeps executions' trace spans in `traces` (shared with the task service that queues).
    #[must_use]
    pub fn with_traces(mut self, traces: TraceSpans) -> Self {
        self.traces = traces;
        self
    }

    /// Runs a claimed (`running`) execution; on any error it is failed with the reason.
    pub async fn run_claimed(&self, claimed: TaskExecution) {
        let span = self.traces.claimed(claimed.id);
        self.run(claimed).instrument(span).await;
    }

    #[tracing::instrument(skip(self, claimed), fields(execution = %claimed.id))]
    async fn run(&self, claimed: TaskExecution) {
        let id = claimed.id;
        if self.shutdown.started() {
            // Its agent never started: hand it back to the queue for the next start or node.
            let mut handed_back = claimed;
            if let Ok(from) = handed_back.release(self.deps.clock.now()) {
                let _ = self.deps.repos.executions.update(&handed_back, from).await;
            }
            return;
        }
        if let Err(err) = self.try_run(claimed).await {
            let reason = if self.shutdown.started() {
                "shutdown".to_owned()
            } else {
                err.to_string()
            };
            tracing::warn!(execution = %id, error = %err, "execution failed");
            self.fail(id, &reason).await;
        }
    }

    /// The run's name and report, as frozen when it was queued (editing or deleting the task
    /// since changes neither).
    async fn run_plan(&self, execution: &TaskExecution) -> Result<RunPlan, ServiceError> {
        let snapshot = &execution.snapshot;
        if let (Some(name), Some(report)) = (&snapshot.task_name, snapshot.report) {
            return Ok(RunPlan {
                name: name.clone(),
                report,
            });
        }
        let task = self
            .deps
            .repos
            .tasks
            .get(execution.task_id, Scope::Admin)
            .await?;
        Ok(RunPlan {
            report: task.generate_report.then_some(task.report_format),
            name: task.name,
        })
    }

    async fn try_run(&self, claimed: TaskExecution) -> Result<(), ServiceError> {
        let id = claimed.id;
        let mut execution = claimed;
        let queued = execution
            .started_at
            .unwrap_or_else(|| self.deps.clock.now())
            - execution.created_at;
        self.telemetry
            .execution_started(queued.try_into().unwrap_or_default());
        let ctx = RequestContext::internal(execution.user_id);
        let task = self.run_plan(&execution).await?;
        let name = SessionName::new(format!("Task: {} ({})", task.name, execution.trigger))?;
        let session = self
            .sessions
            .create(
                &ctx,
                name,
                None,
                SessionMode::Task,
                execution.snapshot.options.clone(),
            )
            .await?;
        execution.begin_agent(session.id, self.deps.clock.now())?;
        self.deps
            .repos
            .executions
            .update(&execution, ExecutionStatus::Running)
            .await?;

        let prompt = execution.snapshot.template.render(&execution.variables)?;
        let limit = execution
            .snapshot
            .options
            .timeout_seconds
            .map_or(self.limits.default_timeout, ExecutionTimeout::as_duration);
        let timer = {
            let (sessions, stops, grace, session) = (
                self.sessions.clone(),
                self.stops.clone(),
                self.limits.stop_grace,
                session.id,
            );
            tokio::spawn(async move {
                tokio::time::sleep(limit).await;
                stops.request(id, StopReason::TimedOut(limit));
                sessions.stop_turn(session, grace).await;
            })
        };
        let spend = TaskSpend::of(execution.task_id, &execution.snapshot.options);
        let turn = self
            .sessions
            .run_task_turn(&ctx, session.id, &prompt, spend)
            .await;
        timer.abort();
        let settled = self.settle(execution, turn, &task).await;
        // After the outcome is stored, not before: closing the CLI (EOF, then waiting for it
        // to exit) took ≈ 15 ms of every run's latency. The node's slot stays held meanwhile.
        self.sessions.release_agent(session.id).await;
        settled
    }

    /// Stores how the run ended: cancelled, timed out, or the turn's outcome (with the report).
    async fn settle(
        &self,
        mut execution: TaskExecution,
        turn: Result<crate::sessions::TurnOutcome, ServiceError>,
        task: &RunPlan,
    ) -> Result<(), ServiceError> {
        let now = self.deps.clock.now();
        let from = match (self.stops.take(execution.id), turn) {
            (Some(StopReason::Cancelled), _) => {
                let from = execution.cancel(now)?;
                self.deps.repos.executions.update(&execution, from).await?;
                return self.audit_executed(&execution, None).await;
            }
            (Some(StopReason::TimedOut(limit)), _) => {
                execution.fail(format!("timed out after {} s", limit.as_secs()), now)?
            }
            (None, turn) => self.finish(&mut execution, turn, now)?,
        };
        self.finish_with_report(execution, from, task).await
    }

    fn finish(
        &self,
        execution: &mut TaskExecution,
        turn: Result<crate::sessions::TurnOutcome, ServiceError>,
        now: time::OffsetDateTime,
    ) -> Result<ExecutionStatus, ServiceError> {
        let schema = execution
            .snapshot
            .options
            .output_format
            .as_ref()
            .map(OutputFormat::schema);
        Ok(match turn {
            Ok(outcome) if !outcome.is_error => {
                let checked = match (schema, &outcome.structured_output) {
                    (None, _) => Ok(()),
                    (Some(schema), Some(output)) => schema.check(output).map_err(|why| {
                        format!("the structured output does not match the task's schema: {why}")
                    }),
                    (Some(_), None) => Err(
                        "the agent ended without the structured output the task's schema asks for"
                            .to_owned(),
                    ),
                };
                execution.structured_output = outcome.structured_output;
                match checked {
                    Ok(()) => execution.complete(outcome.result_message_id, now)?,
                    Err(reason) => {
                        let from = execution.fail(reason, now)?;
                        execution.result_message_id = outcome.result_message_id;
                        from
                    }
                }
            }
            // Cut short by the service stopping, however the turn reports it.
            _ if self.shutdown.started() => execution.fail("shutdown", now)?,
            Ok(outcome) => {
                let reason = outcome
                    .text
                    .unwrap_or_else(|| "the agent reported an error".to_owned());
                let from = execution.fail(reason, now)?;
                execution.result_message_id = outcome.result_message_id;
                from
            }
            Err(err) => execution.fail(err.to_string(), now)?,
        })
    }

    /// Writes the report (if asked), then the final status and report link in one write, then
    /// the audit entry.
    async fn finish_with_report(
        &self,
        mut execution: TaskExecution,
        from: ExecutionStatus,
        task: &RunPlan,
    ) -> Result<(), ServiceError> {
        // The report is rendered from the outcome in memory, so the final status and the
        // report link land in one write: a finished execution always shows its report.
        let mut report_error = None;
        if let Some(format) = task.report {
            let subject = ReportSubject {
                task_name: Some(task.name.as_str()),
                execution: Some(&execution),
                auto_generated: true,
            };
            let session = execution
                .session_id
                .ok_or(ServiceError::NotFound { entity: "session" })?;
            match self.reports.generate(session, format, subject).await {
                Ok(report) => execution.report_id = Some(report.id),
                // The run stands; the report's failure is recorded beside it.
                Err(err) => report_error = Some(err.to_string()),
            }
        }
        self.deps.repos.executions.update(&execution, from).await?;
        self.audit_executed(&execution, report_error).await
    }

    async fn audit_executed(
        &self,
        execution: &TaskExecution,
        report_error: Option<String>,
    ) -> Result<(), ServiceError> {
        let ran = execution
            .started_at
            .zip(execution.completed_at)
            .and_then(|(started, ended)| (ended - started).try_into().ok());
        self.telemetry.execution_finished(execution.status(), ran);
        let record = AuditRecord {
            actor: Some(execution.user_id),
            action: AuditAction::TaskExecuted,
            resource_type: "task_execution",
            resource_id: Some(execution.id.to_string()),
            details: json!({
                "task_id": execution.task_id, "trigger": execution.trigger, "status": execution.status(),
                "session_id": execution.session_id, "error": execution.error_message, "report_error": report_error,
            }),
        };
        self.audit.record(record, None).await
    }

    /// Ends an execution that could not finish: `failed` with `reason`, its session too.
    pub async fn fail(&self, id: ExecutionId, reason: &str) {
        let Ok(mut execution) = self.deps.repos.executions.get(id, Scope::Admin).await else {
            return;
        };
        if let Some(session) = execution.session_id {
            self.sessions.fail(session, reason).await;
        }
        if execution.status().is_terminal() {
            return;
        }
        let Ok(from) = execution.fail(reason, self.deps.clock.now()) else {
            return;
        };
        match self.deps.repos.executions.update(&execution, from).await {
            Ok(()) => {
                if let Err(err) = self.audit_executed(&execution, None).await {
                    tracing::error!(execution = %id, error = %err, "cannot audit a failed execution");
                }
            }
            Err(err) => {
                tracing::error!(execution = %id, error = %err, "cannot mark the execution failed")
            }
        }
    }
}
