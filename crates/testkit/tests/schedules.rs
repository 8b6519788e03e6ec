//! Schedules with a controlled clock and two nodes on one database: each tick becomes exactly
//! one run, and ticks missed while no node ran are skipped or caught up once, per task.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use overseer_domain::{
    AgentOptions, CronSchedule, MissedTicks, NewTask, PromptTemplate, ReportFormat, Schedule, Task,
    TaskName, TaskTemplate, TimeZoneName, TriggerType,
};
use overseer_files::{LocalReportFiles, LocalWorkspaces};
use overseer_ports::repositories::{ClaimLimits, ExecutionFilter};
use overseer_ports::{PageRequest, RandomIds, Repositories, Scope};
use overseer_runner_claude::ClaudeRunner;
use overseer_services::InProcessBroadcaster;
use overseer_services::QueueConfig;
use overseer_services::SchedulerConfig;
use overseer_services::{Adapters, Deps, RequestContext, Services, ServicesConfig};
use overseer_testkit::fixtures::{self, ManualClock};
use time::OffsetDateTime;
use time::macros::datetime;

/// A node that schedules but runs nothing (so every run it creates stays visible as pending).
fn node(repos: &Repositories, clock: &Arc<ManualClock>, dir: &std::path::Path) -> Services {
    let deps = Deps {
        repos: repos.clone(),
        clock: clock.clone(),
        ids: Arc::new(RandomIds),
    };
    let adapters = Adapters {
        deps,
        runner: Arc::new(ClaudeRunner::default()),
        workspaces: Arc::new(LocalWorkspaces::new(dir)),
        report_files: Arc::new(LocalReportFiles::new(dir)),
        report_renderer: Arc::new(overseer_reports::DocumentRenderer),
        calendar: Arc::new(overseer_calendar::CronCalendar),
        broadcaster: Arc::new(InProcessBroadcaster::default()),
        telemetry: Arc::new(overseer_ports::NoTelemetry),
        cluster: None,
    };
    let config = ServicesConfig {
        queue: QueueConfig {
            limits: ClaimLimits {
                global: 0,
                per_user: 0,
            },
            ..QueueConfig::default()
        },
        scheduler: SchedulerConfig {
            enabled: true,
            poll: Duration::from_millis(10),
            grace: Duration::from_secs(10),
        },
        ..ServicesConfig::default()
    };
    let services = Services::build(adapters, config);
    // The scheduler's loop (and the worker's) end with the services.
    drop(services.start());
    services
}

async fn scheduled_task(services: &Services, owner: &RequestContext, missed: MissedTicks) -> Task {
    let new = NewTask {
        name: TaskName::new(format!("every minute, {missed}")).unwrap(),
        description: None,
        template: TaskTemplate::new(
            PromptTemplate::parse("Check the cluster's health.").unwrap(),
            Vec::new(),
        )
        .unwrap(),
        options: AgentOptions::default(),
        generate_report: false,
        report_format: ReportFormat::Markdown,
        schedule: Some(Schedule {
            cron: CronSchedule::new("* * * * *").unwrap(),
            time_zone: TimeZoneName::new("Europe/Berlin").unwrap(),
            missed,
        }),
    };
    services.tasks.create(owner, new).await.unwrap()
}

/// The ticks of the task's runs, oldest first.
async fn ticks(repos: &Repositories, task: &Task) -> Vec<OffsetDateTime> {
    let filter = ExecutionFilter {
        task_id: Some(task.id),
        status: None,
    };
    let runs = repos
        .executions
        .list(Scope::Admin, filter, PageRequest::new(100, 0))
        .await
        .unwrap()
        .items;
    assert!(runs.iter().all(|r| r.trigger == TriggerType::Scheduled));
    let mut ticks: Vec<_> = runs.iter().map(|r| r.scheduled_for.unwrap()).collect();
    ticks.sort();
    ticks
}

/// Waits until both tasks have `counts` runs, then a little longer (dozens of polls by both
/// nodes) so that a duplicate would show.
async fn settle(repos: &Repositories, tasks: [&Task; 2], counts: [usize; 2]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = [
            ticks(repos, tasks[0]).await.len(),
            ticks(repos, tasks[1]).await.len(),
        ];
        if now == counts {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {counts:?} runs, have {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn one_run_per_tick_on_two_nodes_and_both_missed_tick_policies(repos: Repositories) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-24 09:59:30 UTC)));
    let dir = std::env::temp_dir().join(format!("overseer-cron-{}", fixtures::id()));
    let owner = fixtures::user("cron@example.com");
    repos.users.insert(&owner).await.unwrap();
    let ctx = RequestContext::internal(owner.id);
    let a = node(&repos, &clock, &dir);
    let b = node(&repos, &clock, &dir);
    let skip = scheduled_task(&a, &ctx, MissedTicks::Skip).await;
    let catch_up = scheduled_task(&b, &ctx, MissedTicks::RunOnce).await;
    let tasks = [&skip, &catch_up];

    // Nothing is due before the first tick.
    settle(&repos, tasks, [0, 0]).await;
    // Three ticks while both nodes run: one run each, for that tick.
    for minute in 1..=3 {
        clock.set(datetime!(2026-11-24 10:00:00 UTC) + time::Duration::minutes(minute - 1));
        let count = usize::try_from(minute).unwrap();
        settle(&repos, tasks, [count, count]).await;
    }
    let first_three = vec![
        datetime!(2026-11-24 10:00 UTC),
        datetime!(2026-11-24 10:01 UTC),
        datetime!(2026-11-24 10:02 UTC),
    ];
    assert_eq!(ticks(&repos, &skip).await, first_three);

    // Downtime: ticks 10:03 … 10:12 pass unseen; at 10:12:30 the latest is 30 s late.
    clock.set(datetime!(2026-11-24 10:12:30 UTC));
    settle(&repos, tasks, [3, 4]).await;
    assert_eq!(
        ticks(&repos, &catch_up).await.last(),
        Some(&datetime!(2026-11-24 10:12 UTC)),
        "one catch-up run, for the latest missed tick"
    );

    // Back on time: the next tick runs for both.
    clock.set(datetime!(2026-11-24 10:13:05 UTC));
    settle(&repos, tasks, [4, 5]).await;
    assert_eq!(
        ticks(&repos, &skip).await.last(),
        Some(&datetime!(2026-11-24 10:13 UTC))
    );
    a.shutdown(Duration::from_millis(10)).await;
    b.shutdown(Duration::from_millis(10)).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_on_sqlite() {
    let (store, _guard) = overseer_store::testing::sqlite_file().await;
    one_run_per_tick_on_two_nodes_and_both_missed_tick_policies(store.repositories()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_on_postgres() {
    let Some((store, _guard)) = overseer_store::testing::postgres().await else {
        return;
    };
    one_run_per_tick_on_two_nodes_and_both_missed_tick_policies(store.repositories()).await;
}
