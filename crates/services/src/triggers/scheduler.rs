//! The scheduler of one node: every `poll`, it looks at each scheduled task and creates the
//! run for its latest tick if that tick is due. Every node runs it; the unique
//! `(task_id, scheduled_for)` lets exactly one run per tick through. Time is the `Clock`
//! port's, so tests move it.
//!
//! A task's ticks are considered from its last scheduled run (or its last update, for a new
//! or changed schedule). The latest tick since then runs if it is within `grace` of now; older
//! ones were missed (no node was up): `skip` drops them, `run_once` runs one catch-up run for
//! the latest.

use std::sync::{Arc, Weak};
use std::time::Duration;

use overseer_domain::{MissedTicks, Task, TaskExecution};
use overseer_ports::ScheduleCalendar;
use time::OffsetDateTime;

use crate::context::Deps;
use crate::error::ServiceError;
use crate::executions::executor::Shutdown;
use crate::tasks::TaskService;

/// How the scheduler runs.
#[derive(Clone, Copy, Debug)]
pub struct SchedulerConfig {
    /// Off: this node creates no scheduled runs (others may).
    pub enabled: bool,
    /// How often to look (in real time).
    pub poll: Duration,
    /// How late a tick may be seen and still count as on time rather than missed.
    pub grace: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            poll: Duration::from_secs(1),
            grace: Duration::from_secs(60),
        }
    }
}

pub struct Scheduler {
    deps: Deps,
    tasks: Arc<TaskService>,
    calendar: Arc<dyn ScheduleCalendar>,
    config: SchedulerConfig,
    shutdown: Arc<Shutdown>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    #[must_use]
    pub fn new(
        deps: Deps,
        tasks: Arc<TaskService>,
        calendar: Arc<dyn ScheduleCalendar>,
        config: SchedulerConfig,
        shutdown: Arc<Shutdown>,
    ) -> Arc<Self> {
        Arc::new(Self {
            deps,
            tasks,
            calendar,
            config,
            shutdown,
        })
    }

    /// Starts the polling loop (it ends with the scheduler or shutdown), unless schedules are
    /// disabled; the caller owns the task.
    pub fn start(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        self.config
            .enabled
            .then(|| tokio::spawn(Self::run(Arc::downgrade(self))))
    }

    async fn run(scheduler: Weak<Self>) {
        loop {
            let Some(this) = scheduler.upgrade() else {
                return;
            };
            if this.shutdown.started() {
                return;
            }
            this.tick().await;
            let poll = this.config.poll;
            drop(this);
            tokio::time::sleep(poll).await;
        }
    }

    /// One pass over every scheduled task; returns the runs it created.
    pub async fn tick(&self) -> Vec<TaskExecution> {
        let tasks = match self.deps.repos.tasks.list_scheduled().await {
            Ok(tasks) => tasks,
            Err(err) => {
                tracing::warn!(error = %err, "cannot list scheduled tasks");
                return Vec::new();
            }
        };
        let now = self.deps.clock.now();
        let mut created = Vec::new();
        for task in tasks {
            match self.run_if_due(&task, now).await {
                Ok(Some(run)) => created.push(run),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(task = %task.id, error = %err, "scheduled run not created");
                }
            }
        }
        created
    }

    async fn run_if_due(
        &self,
        task: &Task,
        now: OffsetDateTime,
    ) -> Result<Option<TaskExecution>, ServiceError> {
        let Some(schedule) = &task.schedule else {
            return Ok(None);
        };
        let Some(tick) = self.calendar.latest_tick(schedule, now)? else {
            return Ok(None);
        };
        let since = self
            .deps
            .repos
            .executions
            .last_scheduled_for(task.id)
            .await?
            .map_or(task.updated_at, |last| last.max(task.updated_at));
        if tick <= since {
            return Ok(None);
        }
        let on_time = now - tick <= self.config.grace;
        if !on_time && schedule.missed == MissedTicks::Skip {
            return Ok(None);
        }
        let run = self.tasks.execute_scheduled(task, tick).await?;
        if let Some(run) = &run {
            tracing::info!(task = %task.id, execution = %run.id, %tick, on_time, "scheduled run created");
        }
        Ok(run)
    }
}
