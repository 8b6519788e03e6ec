//! Tasks: create, update, soft-delete, list, and execute (validate, store `pending`, hand to
//! the queue, return at once).

mod wait;

use overseer_domain::AuditAction;
use std::collections::BTreeMap;
use std::sync::Arc;

use std::time::Duration;

use overseer_domain::{
    AgentOptions, CronSchedule, ExecutionId, ExecutionStatus, MissedTicks, NewTask, ReportFormat,
    Schedule, SessionId, Task, TaskExecution, TaskId, TaskName, TaskTemplate, TimeZoneName,
    TriggerType, ValidationError, check_description,
};
use overseer_ports::repositories::ExecutionFilter;
use overseer_ports::{ExecutionQueue, Page, PageRequest, ScheduleCalendar};
use serde_json::{Value, json};

use crate::agents::option_rules::OptionRules;
use crate::agents::runtime::AgentRuntime;
use crate::audit::{AuditRecord, AuditService};
use crate::context::{Deps, RequestContext};
use crate::error::ServiceError;
use crate::events::execution_watch::ExecutionWatch;
use crate::executions::executor::{StopReason, StopRequests};
use crate::quotas::{QuotaService, TaskSpend};
use crate::sessions::SessionService;
use crate::traces::TraceSpans;

/// The changes of a task update; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct TaskPatch {
    /// A new name.
    pub name: Option<TaskName>,
    /// A new description (`Some(None)` removes it).
    pub description: Option<Option<String>>,
    /// A new template and variable declarations.
    pub template: Option<TaskTemplate>,
    /// New agent options.
    pub options: Option<AgentOptions>,
    /// Activates or deactivates the task.
    pub is_active: Option<bool>,
    /// Whether runs write a report.
    pub generate_report: Option<bool>,
    /// The report's format.
    pub report_format: Option<ReportFormat>,
    /// `Some(None)` removes the schedule.
    pub schedule: Option<Option<CronSchedule>>,
    /// The schedule's IANA time zone.
    pub schedule_timezone: Option<TimeZoneName>,
    /// What a schedule does about ticks it missed.
    pub schedule_missed_ticks: Option<MissedTicks>,
}

/// A schedule must parse, and scheduled runs have no variables: each must have a default.
fn check_schedule(calendar: &dyn ScheduleCalendar, task: &Task) -> Result<(), ServiceError> {
    if let Some(schedule) = &task.schedule {
        calendar.check(schedule)?;
        if task.template.render(&BTreeMap::new()).is_err() {
            return Err(ValidationError::new(
                "schedule",
                "scheduled runs have no variables: every template variable needs a default",
            )
            .into());
        }
    }
    Ok(())
}

/// Tasks: create, update, delete, list, and execute (validate, snapshot, queue).
pub struct TaskService {
    deps: Deps,
    audit: AuditService,
    queue: Arc<dyn ExecutionQueue>,
    quotas: Arc<QuotaService>,
    /// Set when the service can cancel running executions (see [`TaskService::with_cancellation`]).
    cancel: Option<Canceller>,
    /// What the tasks' options must satisfy here (extra directories, built-in servers).
    option_rules: OptionRules,
    /// Whether this node can run agents; runs are refused when it cannot.
    runtime: AgentRuntime,
    /// Where a queued execution's span waits for its worker.
    traces: TraceSpans,
    /// Checks schedules.
    calendar: Arc<dyn ScheduleCalendar>,
    /// Announces endings in this process, so waiters answer at once.
    ended: ExecutionWatch,
}

/// What cancelling a running execution needs.
#[derive(Clone)]
struct Canceller {
    sessions: Arc<SessionService>,
    stops: Arc<StopRequests>,
    grace: Duration,
}

impl Canceller {
    /// Interrupts the session's turn now, and stops its agent if it is still busy after the
    /// grace period.
    fn stop(&self, session: SessionId) {
        let (sessions, grace) = (self.sessions.clone(), self.grace);
        tokio::spawn(async move { sessions.stop_turn(session, grace).await });
    }
}

impl std::fmt::Debug for TaskService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskService").finish_non_exhaustive()
    }
}

impl TaskService {
    /// The service over `deps`, queueing runs on `queue` under `quotas`, checking schedules with `calendar`.
    #[must_use]
    pub fn new(
        deps: Deps,
        queue: Arc<dyn ExecutionQueue>,
        quotas: Arc<QuotaService>,
        calendar: Arc<dyn ScheduleCalendar>,
    ) -> Self {
        Self {
            audit: AuditService::new(deps.clone()),
            deps,
            queue,
            quotas,
            cancel: None,
            option_rules: OptionRules::default(),
            runtime: AgentRuntime::default(),
            traces: TraceSpans::default(),
            ended: ExecutionWatch::default(),
            calendar,
        }
    }

    /// What a task must satisfy beyond its own fields: a runnable schedule, and options this
    /// service allows.
    fn check(&self, task: &Task) -> Result<(), ServiceError> {
        check_schedule(self.calendar.as_ref(), task)?;
        Ok(self.option_rules.check(&task.options)?)
    }

    /// Lets tasks ask for extra directories and built-in tool servers within `rules`; by
    /// default none.
    #[must_use]
    pub fn with_option_rules(mut self, rules: OptionRules) -> Self {
        self.option_rules = rules;
        self
    }

    /// Answers [`TaskService::wait_for_end`] as soon as `watch` announces the ending (without
    /// it, waiters notice on their next re-read).
    #[must_use]
    pub fn with_execution_watch(mut self, watch: ExecutionWatch) -> Self {
        self.ended = watch;
        self
    }

    /// Keeps queued executions' spans in `traces`, for the worker that claims them.
    #[must_use]
    pub fn with_traces(mut self, traces: TraceSpans) -> Self {
        self.traces = traces;
        self
    }

    /// Refuses runs while `runtime` is unavailable (default: ready).
    #[must_use]
    pub fn with_agent_runtime(mut self, runtime: AgentRuntime) -> Self {
        self.runtime = runtime;
        self
    }

    /// Lets [`TaskService::cancel`] stop running executions: interrupt the turn, then stop the
    /// agent if it has not ended after `grace`.
    #[must_use]
    pub fn with_cancellation(
        mut self,
        sessions: Arc<SessionService>,
        stops: Arc<StopRequests>,
        grace: Duration,
    ) -> Self {
        self.cancel = Some(Canceller {
            sessions,
            stops,
            grace,
        });
        self
    }

    /// Cancels an execution: a pending one at once, a running one by interrupting its turn
    /// (and stopping its agent after the grace period); it then ends `cancelled`. Cancelling a
    /// cancelled execution changes nothing.
    ///
    /// # Errors
    /// `NotFound`; [`ServiceError::Conflict`] if it already completed or failed.
    pub async fn cancel(
        &self,
        ctx: &RequestContext,
        id: ExecutionId,
    ) -> Result<TaskExecution, ServiceError> {
        // A pending run may start while we cancel it: retry once it shows as running.
        for _ in 0..3 {
            let mut execution = self.deps.repos.executions.get(id, ctx.scope()).await?;
            match execution.status() {
                ExecutionStatus::Cancelled => return Ok(execution),
                ExecutionStatus::Completed | ExecutionStatus::Failed => {
                    return Err(ServiceError::Conflict(format!(
                        "the execution already {}",
                        execution.status()
                    )));
                }
                ExecutionStatus::Pending => {
                    let from = execution.cancel(self.deps.clock.now())?;
                    match self.deps.repos.executions.update(&execution, from).await {
                        Ok(()) => {
                            self.audit_cancel(ctx, &execution).await?;
                            return Ok(execution);
                        }
                        Err(overseer_ports::RepoError::Conflict { .. }) => {}
                        Err(err) => return Err(err.into()),
                    }
                }
                ExecutionStatus::Running => {
                    let Some(canceller) = &self.cancel else {
                        return Err(ServiceError::Conflict(
                            "running executions cannot be cancelled here".to_owned(),
                        ));
                    };
                    canceller.stops.request(id, StopReason::Cancelled);
                    self.audit_cancel(ctx, &execution).await?;
                    if let Some(session) = execution.session_id {
                        canceller.stop(session);
                    }
                    return Ok(execution);
                }
            }
        }
        Err(ServiceError::Conflict(
            "the execution changed while being cancelled".to_owned(),
        ))
    }

    async fn audit_cancel(
        &self,
        ctx: &RequestContext,
        execution: &TaskExecution,
    ) -> Result<(), ServiceError> {
        let record = AuditRecord {
            actor: Some(ctx.user_id),
            action: AuditAction::TaskCancelled,
            resource_type: "task_execution",
            resource_id: Some(execution.id.to_string()),
            details: json!({"status": execution.status()}),
        };
        self.audit.record(record, Some(ctx)).await
    }

    async fn audit_task(
        &self,
        ctx: &RequestContext,
        action: AuditAction,
        id: impl ToString,
        details: Value,
    ) -> Result<(), ServiceError> {
        let record = AuditRecord {
            actor: Some(ctx.user_id),
            action,
            resource_type: "task",
            resource_id: Some(id.to_string()),
            details,
        };
        self.audit.record(record, Some(ctx)).await
    }

    /// # Errors
    /// [`ServiceError::Validation`]; storage errors.
    pub async fn create(&self, ctx: &RequestContext, new: NewTask) -> Result<Task, ServiceError> {
        let task = Task::new(
            TaskId::from_uuid(self.deps.ids.new_id()),
            ctx.user_id,
            new,
            self.deps.clock.now(),
        )?;
        self.check(&task)?;
        self.deps.repos.tasks.insert(&task).await?;
        self.audit_task(
            ctx,
            AuditAction::TaskCreated,
            task.id,
            json!({"name": task.name}),
        )
        .await?;
        Ok(task)
    }

    /// # Errors
    /// `NotFound` if missing, deleted or someone else's.
    pub async fn get(&self, ctx: &RequestContext, id: TaskId) -> Result<Task, ServiceError> {
        Ok(self.deps.repos.tasks.get(id, ctx.scope()).await?)
    }

    /// # Errors
    /// Storage errors.
    pub async fn list(
        &self,
        ctx: &RequestContext,
        page: PageRequest,
    ) -> Result<Page<Task>, ServiceError> {
        Ok(self.deps.repos.tasks.list(ctx.scope(), page).await?)
    }

    /// Applies `patch` if the task is still at `expected_version` (or whatever it is, when
    /// `None`), and bumps its version.
    ///
    /// # Errors
    /// `NotFound`; [`ServiceError::Conflict`] if someone else changed it first; validation.
    pub async fn update(
        &self,
        ctx: &RequestContext,
        id: TaskId,
        expected_version: Option<u32>,
        patch: TaskPatch,
    ) -> Result<Task, ServiceError> {
        let mut task = self.deps.repos.tasks.get(id, ctx.scope()).await?;
        let version = task.version;
        if expected_version.is_some_and(|v| v != version) {
            return Err(ServiceError::Conflict(format!(
                "the task is at version {version}"
            )));
        }
        if let Some(description) = &patch.description {
            check_description(description.as_deref())?;
        }
        let changed: Vec<&str> = [
            ("name", patch.name.is_some()),
            ("description", patch.description.is_some()),
            ("prompt_template", patch.template.is_some()),
            ("sdk_options", patch.options.is_some()),
            ("is_active", patch.is_active.is_some()),
            ("generate_report", patch.generate_report.is_some()),
            ("report_format", patch.report_format.is_some()),
            (
                "schedule",
                patch.schedule.is_some()
                    || patch.schedule_timezone.is_some()
                    || patch.schedule_missed_ticks.is_some(),
            ),
        ]
        .into_iter()
        .filter_map(|(field, set)| set.then_some(field))
        .collect();
        let schedule = Schedule::changed(
            task.schedule.as_ref(),
            patch.schedule.clone(),
            patch.schedule_timezone.clone(),
            patch.schedule_missed_ticks,
        )?;
        task.name = patch.name.unwrap_or(task.name);
        task.description = patch.description.unwrap_or(task.description);
        task.template = patch.template.unwrap_or(task.template);
        task.options = patch.options.unwrap_or(task.options);
        task.is_active = patch.is_active.unwrap_or(task.is_active);
        task.generate_report = patch.generate_report.unwrap_or(task.generate_report);
        task.report_format = patch.report_format.unwrap_or(task.report_format);
        task.schedule = schedule;
        self.check(&task)?;
        task.version = version + 1;
        task.updated_at = self.deps.clock.now();
        self.deps.repos.tasks.update(&task, version).await?;
        self.audit_task(
            ctx,
            AuditAction::TaskUpdated,
            id,
            json!({"fields": changed, "version": task.version}),
        )
        .await?;
        Ok(task)
    }

    /// Soft-deletes a task; its executions stay.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn delete(&self, ctx: &RequestContext, id: TaskId) -> Result<(), ServiceError> {
        self.deps.repos.tasks.soft_delete(id, ctx.scope()).await?;
        self.audit_task(ctx, AuditAction::TaskDeleted, id, json!({}))
            .await
    }

    /// Validates (the task exists for this caller, is active, the variables render) before
    /// writing anything, then stores a `pending` execution with a snapshot of the task and
    /// hands it to the queue. Returns at once.
    ///
    /// # Errors
    /// `NotFound`, [`ServiceError::TaskInactive`], [`ServiceError::Render`] (listing every bad
    /// variable), [`ServiceError::Queue`].
    #[tracing::instrument(skip(self, ctx, variables), fields(user = %ctx.user_id))]
    pub async fn execute(
        &self,
        ctx: &RequestContext,
        id: TaskId,
        variables: BTreeMap<String, Value>,
        trigger: TriggerType,
    ) -> Result<TaskExecution, ServiceError> {
        let task = self.deps.repos.tasks.get(id, ctx.scope()).await?;
        if !task.is_active {
            return Err(ServiceError::TaskInactive);
        }
        self.runtime.admit()?;
        task.template.render(&variables)?;
        self.quotas
            .admit_run(task.user_id, Some(TaskSpend::of(task.id, &task.options)))
            .await?;
        let execution = TaskExecution::new(
            ExecutionId::from_uuid(self.deps.ids.new_id()),
            task.id,
            task.user_id,
            trigger,
            variables,
            task.snapshot(),
            self.deps.clock.now(),
        );
        self.deps.repos.executions.insert(&execution).await?;
        // Before the submit: a worker may claim it at once.
        self.traces.queued(execution.id);
        self.queue.submit(execution.id).await?;
        Ok(execution)
    }

    /// Queues the run of `task` for the schedule's `tick`, on the owner's behalf. `None` if a
    /// run for that tick exists already (another node created it).
    ///
    /// # Errors
    /// Rendering (a variable lost its default), quota, storage and queue errors.
    pub async fn execute_scheduled(
        &self,
        task: &Task,
        tick: time::OffsetDateTime,
    ) -> Result<Option<TaskExecution>, ServiceError> {
        let variables = BTreeMap::new();
        self.runtime.admit()?;
        task.template.render(&variables)?;
        self.quotas
            .admit_run(task.user_id, Some(TaskSpend::of(task.id, &task.options)))
            .await?;
        let mut execution = TaskExecution::new(
            ExecutionId::from_uuid(self.deps.ids.new_id()),
            task.id,
            task.user_id,
            TriggerType::Scheduled,
            variables,
            task.snapshot(),
            self.deps.clock.now(),
        );
        execution.scheduled_for = Some(tick);
        match self.deps.repos.executions.insert(&execution).await {
            Ok(()) => {}
            Err(overseer_ports::RepoError::AlreadyExists { .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        }
        self.queue.submit(execution.id).await?;
        Ok(Some(execution))
    }

    /// How many executions wait to run.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn queue_depth(&self) -> Result<u64, ServiceError> {
        let filter = ExecutionFilter {
            task_id: None,
            status: Some(ExecutionStatus::Pending),
        };
        let page = self
            .deps
            .repos
            .executions
            .list(overseer_ports::Scope::Admin, filter, PageRequest::first(1))
            .await?;
        Ok(page.total)
    }

    /// # Errors
    /// `NotFound`.
    pub async fn execution(
        &self,
        ctx: &RequestContext,
        id: ExecutionId,
    ) -> Result<TaskExecution, ServiceError> {
        Ok(self.deps.repos.executions.get(id, ctx.scope()).await?)
    }

    /// A task's executions, newest first.
    ///
    /// # Errors
    /// `NotFound` for someone else's task.
    pub async fn executions(
        &self,
        ctx: &RequestContext,
        id: TaskId,
        page: PageRequest,
    ) -> Result<Page<TaskExecution>, ServiceError> {
        self.deps.repos.tasks.get(id, ctx.scope()).await?;
        let filter = ExecutionFilter {
            task_id: Some(id),
            status: None,
        };
        self.list_executions(ctx, filter, page).await
    }

    /// Executions across tasks, newest first: the caller's own, or everyone's for an admin;
    /// only those in `status` when given.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    pub async fn all_executions(
        &self,
        ctx: &RequestContext,
        status: Option<ExecutionStatus>,
        page: PageRequest,
    ) -> Result<Page<TaskExecution>, ServiceError> {
        let filter = ExecutionFilter {
            task_id: None,
            status,
        };
        self.list_executions(ctx, filter, page).await
    }

    async fn list_executions(
        &self,
        ctx: &RequestContext,
        filter: ExecutionFilter,
        page: PageRequest,
    ) -> Result<Page<TaskExecution>, ServiceError> {
        Ok(self
            .deps
            .repos
            .executions
            .list(ctx.scope(), filter, page)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use overseer_domain::{Quota, ReportFormat, TaskName};
    use overseer_ports::repositories::{
        MockAuditLogRepository, MockExecutionRepository, MockTaskRepository,
    };
    use overseer_ports::{MockExecutionQueue, Repositories};
    use overseer_testkit::{MemoryStore, fixtures};

    use super::*;

    fn task(active: bool) -> Task {
        let mut task = fixtures::task(
            fixtures::user("a@example.com").id,
            "Kubernetes Cluster Health Check",
            fixtures::EPOCH,
        );
        task.is_active = active;
        task
    }

    /// Services over mocks: the task repository returns `task`, nothing may be inserted or
    /// queued unless `writes` says so.
    fn service(task: Task, writes: usize) -> (TaskService, RequestContext) {
        let owner = task.user_id;
        let mut tasks = MockTaskRepository::new();
        tasks.expect_get().returning(move |_, _| Ok(task.clone()));
        let mut executions = MockExecutionRepository::new();
        executions
            .expect_insert()
            .times(writes)
            .returning(|_| Ok(()));
        let mut queue = MockExecutionQueue::new();
        queue.expect_submit().times(writes).returning(|_| Ok(()));
        let mut audit = MockAuditLogRepository::new();
        audit.expect_append().returning(|_| Ok(()));
        let mut repos: Repositories = MemoryStore::new().repositories();
        repos.tasks = Arc::new(tasks);
        repos.executions = Arc::new(executions);
        repos.audit_logs = Arc::new(audit);
        let deps = Deps::system(repos);
        (
            TaskService::new(
                deps.clone(),
                Arc::new(queue),
                Arc::new(QuotaService::new(deps, Quota::default())),
                Arc::new(overseer_calendar::CronCalendar),
            ),
            RequestContext::internal(owner),
        )
    }

    fn production() -> BTreeMap<String, Value> {
        BTreeMap::from([("cluster_name".to_owned(), json!("production"))])
    }

    #[tokio::test]
    async fn execute_stores_a_pending_run_and_queues_it() {
        let task = task(true);
        let (service, ctx) = service(task.clone(), 1);
        let execution = service
            .execute(&ctx, task.id, production(), TriggerType::Api)
            .await
            .unwrap();
        assert_eq!(
            execution.status(),
            overseer_domain::ExecutionStatus::Pending
        );
        assert_eq!(execution.trigger, TriggerType::Api);
        assert_eq!(execution.snapshot, task.snapshot());
    }

    #[tokio::test]
    async fn an_inactive_task_is_refused_before_anything_is_written() {
        let task = task(false);
        let (service, ctx) = service(task.clone(), 0);
        let err = service
            .execute(&ctx, task.id, production(), TriggerType::Manual)
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::TaskInactive), "{err}");
    }

    #[tokio::test]
    async fn bad_variables_are_refused_before_anything_is_written() {
        let task = task(true);
        let (service, ctx) = service(task.clone(), 0);
        let err = service
            .execute(&ctx, task.id, BTreeMap::new(), TriggerType::Manual)
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::Render(_)), "{err}");
        assert!(err.to_string().contains("cluster_name"));
    }

    #[tokio::test]
    async fn an_update_against_a_stale_version_writes_nothing() {
        let task = task(true);
        let (service, ctx) = service(task.clone(), 0);
        // The mock task repository has no `update` expectation: a write would fail the test.
        let patch = TaskPatch {
            name: Some(TaskName::new("renamed").unwrap()),
            report_format: Some(ReportFormat::Pdf),
            ..TaskPatch::default()
        };
        let err = service
            .update(&ctx, task.id, Some(task.version + 1), patch)
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::Conflict(_)), "{err}");
    }
}
