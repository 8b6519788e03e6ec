//! Quotas on the execution path: a user over a limit is refused with the limit named and
//! nothing stored; an agent starts with `--max-budget-usd` no higher than the day's remaining
//! budget; each turn's cost counts against the day. The agent is a mock reporting $0.40 a turn.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use overseer_domain::{
    AgentOptions, ExecutionStatus, NewTask, Quota, QuotaLimit, ReportFormat, Task, TaskName,
    TriggerType, UsdBudget, UserId,
};
use overseer_ports::agent::{
    AgentEvent, AgentSession, InitEvent, MockAgentRunner, TokenUsage, TurnResult,
};
use overseer_ports::repositories::{ClaimLimits, ExecutionFilter};
use overseer_ports::{MockReportFiles, MockWorkspaces, PageRequest, Repositories, Scope};
use overseer_services::InProcessBroadcaster;
use overseer_services::QueueConfig;
use overseer_services::{Adapters, Deps, RequestContext, ServiceError, Services, ServicesConfig};
use overseer_testkit::{MemoryStore, fixtures};
use serde_json::json;
use support::scripted_agent;

const TURN_COST_USD: f64 = 0.4;

fn agent() -> Arc<dyn AgentSession> {
    let events = vec![
        AgentEvent::Init(InitEvent {
            agent_session_id: "cli-1".into(),
            model: None,
            tools: vec![],
            mcp_servers: vec![],
            raw: json!({"type": "system", "subtype": "init"}),
        }),
        AgentEvent::TurnEnded(TurnResult {
            subtype: "success".into(),
            is_error: false,
            result: Some("done".into()),
            num_turns: 1,
            duration_ms: 5,
            total_cost_usd: TURN_COST_USD,
            usage: TokenUsage::default(),
            permission_denials: vec![],
            structured_output: None,
            terminal_reason: None,
            api_error_status: None,
            agent_session_id: Some("cli-1".into()),
            raw: json!({"type": "result"}),
        }),
    ];
    scripted_agent(events)
}

struct Setup {
    repos: Repositories,
    services: Services,
    owner: UserId,
    task: Task,
    /// `--max-budget-usd` of each agent started.
    budgets: Arc<Mutex<Vec<Option<f64>>>>,
}

async fn setup(default_quota: Quota, task_budget: Option<f64>) -> Setup {
    setup_with(
        default_quota,
        task_budget,
        ClaimLimits {
            global: 8,
            per_user: 8,
        },
    )
    .await
}

/// `claims` bounds the queue worker (zero: it runs nothing, so stored runs stay pending).
async fn setup_with(default_quota: Quota, task_budget: Option<f64>, claims: ClaimLimits) -> Setup {
    let repos = MemoryStore::new().repositories();
    let deps = Deps::system(repos.clone());
    let budgets = Arc::new(Mutex::new(Vec::new()));
    let seen = budgets.clone();
    let mut runner = MockAgentRunner::new();
    runner.expect_start().returning(move |spec, _| {
        seen.lock()
            .unwrap()
            .push(spec.options.max_budget_usd.map(UsdBudget::value));
        Ok(agent())
    });
    let mut workspaces = MockWorkspaces::new();
    workspaces
        .expect_create()
        .returning(|id| Ok(PathBuf::from(format!("/tmp/overseer-mock/{id}"))));
    let adapters = Adapters {
        deps,
        runner: Arc::new(runner),
        workspaces: Arc::new(workspaces),
        report_files: Arc::new(MockReportFiles::new()),
        report_renderer: Arc::new(overseer_reports::DocumentRenderer),
        calendar: Arc::new(overseer_calendar::CronCalendar),
        broadcaster: Arc::new(InProcessBroadcaster::default()),
        telemetry: Arc::new(overseer_ports::NoTelemetry),
        cluster: None,
    };
    let config = ServicesConfig {
        default_quota,
        queue: QueueConfig {
            limits: claims,
            ..QueueConfig::default()
        },
        ..ServicesConfig::default()
    };
    let services = Services::build(adapters, config);
    drop(services.start());
    let owner = fixtures::user("ops@example.com");
    repos.users.insert(&owner).await.unwrap();
    let new = NewTask {
        name: TaskName::new("Nightly check").unwrap(),
        description: None,
        template: fixtures::health_check_template(),
        options: AgentOptions {
            max_budget_usd: task_budget.map(|b| UsdBudget::new(b).unwrap()),
            ..AgentOptions::default()
        },
        generate_report: false,
        report_format: ReportFormat::Markdown,
        schedule: None,
    };
    let task = services
        .tasks
        .create(&RequestContext::internal(owner.id), new)
        .await
        .unwrap();
    Setup {
        repos,
        services,
        owner: owner.id,
        task,
        budgets,
    }
}

impl Setup {
    async fn execute(&self) -> Result<overseer_domain::TaskExecution, ServiceError> {
        let variables = BTreeMap::from([("cluster_name".to_owned(), json!("production"))]);
        self.services
            .tasks
            .execute(
                &RequestContext::internal(self.owner),
                self.task.id,
                variables,
                TriggerType::Manual,
            )
            .await
    }

    async fn run_to_end(&self) -> overseer_domain::TaskExecution {
        let queued = self.execute().await.unwrap();
        overseer_testkit::waits::run_finished(&self.repos, queued.id, Duration::from_secs(10)).await
    }

    async fn stored_runs(&self) -> u64 {
        self.repos
            .executions
            .list(
                Scope::Admin,
                ExecutionFilter::default(),
                PageRequest::first(1),
            )
            .await
            .unwrap()
            .total
    }

    async fn spent_today(&self) -> f64 {
        let today = time::OffsetDateTime::now_utc().date();
        self.repos.quotas.cost_on(self.owner, today).await.unwrap()
    }
}

fn refused_with(result: Result<overseer_domain::TaskExecution, ServiceError>) -> QuotaLimit {
    match result {
        Err(ServiceError::QuotaExceeded { limit, .. }) => limit,
        other => panic!("expected a quota refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn over_the_active_runs_limit_a_run_is_refused_and_nothing_stored() {
    let s = setup(Quota::default(), None).await;
    let own = Quota {
        max_active_runs: Some(0),
        max_daily_cost_usd: None,
    };
    s.repos
        .quotas
        .set(s.owner, own, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(refused_with(s.execute().await), QuotaLimit::MaxActiveRuns);
    assert_eq!(s.stored_runs().await, 0, "nothing half-written");
}

#[tokio::test]
async fn the_default_active_runs_limit_applies_to_users_without_their_own() {
    let paused = ClaimLimits {
        global: 0,
        per_user: 0,
    };
    let quota = Quota {
        max_active_runs: Some(1),
        max_daily_cost_usd: None,
    };
    let s = setup_with(quota, None, paused).await;
    // One run already waits (the worker claims nothing here).
    let waiting = fixtures::execution(&s.task, time::OffsetDateTime::now_utc());
    s.repos.executions.insert(&waiting).await.unwrap();
    assert_eq!(refused_with(s.execute().await), QuotaLimit::MaxActiveRuns);
    let status = s.services.quotas.status_of(s.owner).await.unwrap();
    assert_eq!(status.effective.max_active_runs, Some(1));
    assert_eq!(status.own.max_active_runs, None);
}

#[tokio::test]
async fn each_turns_cost_counts_and_the_agent_gets_the_remaining_budget() {
    let s = setup(
        Quota {
            max_active_runs: None,
            max_daily_cost_usd: Some(UsdBudget::new(1.0).unwrap()),
        },
        None,
    )
    .await;
    assert_eq!(s.run_to_end().await.status(), ExecutionStatus::Completed);
    assert!((s.spent_today().await - TURN_COST_USD).abs() < 1e-9);
    assert_eq!(s.run_to_end().await.status(), ExecutionStatus::Completed);
    assert!((s.spent_today().await - 2.0 * TURN_COST_USD).abs() < 1e-9);
    // Started with the whole dollar, then with what the first run left.
    let budgets = s.budgets.lock().unwrap().clone();
    assert_eq!(budgets.len(), 2);
    assert!((budgets[0].unwrap() - 1.0).abs() < 1e-9, "{budgets:?}");
    assert!(
        (budgets[1].unwrap() - (1.0 - TURN_COST_USD)).abs() < 1e-9,
        "{budgets:?}"
    );
}

#[tokio::test]
async fn a_task_budget_below_the_remaining_budget_stands() {
    let s = setup(
        Quota {
            max_active_runs: None,
            max_daily_cost_usd: Some(UsdBudget::new(5.0).unwrap()),
        },
        Some(0.25),
    )
    .await;
    s.run_to_end().await;
    assert_eq!(s.budgets.lock().unwrap().clone(), vec![Some(0.25)]);
}

#[tokio::test]
async fn with_the_days_budget_spent_a_run_is_refused() {
    let s = setup(
        Quota {
            max_active_runs: None,
            max_daily_cost_usd: Some(UsdBudget::new(0.5).unwrap()),
        },
        None,
    )
    .await;
    s.run_to_end().await;
    s.run_to_end().await; // $0.80 now: over the $0.50 budget.
    assert_eq!(refused_with(s.execute().await), QuotaLimit::MaxDailyCostUsd);
    assert_eq!(s.stored_runs().await, 2);
}
