//! Quotas and budgets on the execution path: a user over a limit is refused with the limit
//! named and nothing stored; an agent starts with `--max-budget-usd` no higher than the
//! tightest budget left (day, month, the task's month, the soft threshold); each turn's cost
//! counts against the day, the month and the task. At the soft threshold a run asks and goes on
//! or stops; at a hard budget it stops. The agent is a mock reporting $0.40 a turn unless a test
//! scripts how its agents end.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use overseer_domain::{
    AgentOptions, Approval, ApprovalKind, ApprovalStatus, ExecutionStatus, NewTask, Quota,
    QuotaLimit, ReportFormat, Task, TaskName, TriggerType, UsdBudget, UserId,
};
use overseer_ports::agent::{
    AgentEvent, AgentSession, InitEvent, MockAgentRunner, TokenUsage, TurnResult,
};
use overseer_ports::repositories::{ApprovalFilter, ClaimLimits, ExecutionFilter};
use overseer_ports::{MockReportFiles, MockWorkspaces, PageRequest, Repositories, Scope};
use overseer_services::InProcessBroadcaster;
use overseer_services::QueueConfig;
use overseer_services::{Adapters, Deps, RequestContext, ServiceError, Services, ServicesConfig};
use overseer_testkit::{MemoryStore, fixtures};
use serde_json::json;
use support::scripted_process;

const TURN_COST_USD: f64 = 0.4;

/// An agent (process `pid`) whose turn ends with `subtype` having cost `cost`.
fn agent(subtype: &str, cost: f64, pid: u32) -> Arc<dyn AgentSession> {
    let events = vec![
        AgentEvent::Init(InitEvent {
            agent_session_id: "cli-1".into(),
            model: None,
            tools: vec![],
            mcp_servers: vec![],
            raw: json!({"type": "system", "subtype": "init"}),
        }),
        AgentEvent::TurnEnded(TurnResult {
            subtype: subtype.into(),
            is_error: subtype != "success",
            result: Some("done".into()),
            num_turns: 1,
            duration_ms: 5,
            total_cost_usd: cost,
            usage: TokenUsage::default(),
            permission_denials: vec![],
            structured_output: None,
            terminal_reason: None,
            api_error_status: None,
            agent_session_id: Some("cli-1".into()),
            model: None,
            raw: json!({"type": "result"}),
        }),
    ];
    scripted_process(events, pid)
}

struct Setup {
    repos: Repositories,
    services: Services,
    owner: UserId,
    task: Task,
    /// `--max-budget-usd` of each agent started.
    budgets: Arc<Mutex<Vec<Option<f64>>>>,
    /// How the next agents' turns end (subtype, cost), in order; then "success", $0.40.
    endings: Arc<Mutex<VecDeque<(&'static str, f64)>>>,
}

async fn setup(default_quota: Quota, task_budget: Option<f64>) -> Setup {
    let options = AgentOptions {
        max_budget_usd: task_budget.map(|b| UsdBudget::new(b).unwrap()),
        ..AgentOptions::default()
    };
    setup_with(
        default_quota,
        options,
        ClaimLimits {
            global: 8,
            per_user: 8,
        },
    )
    .await
}

/// `claims` bounds the queue worker (zero: it runs nothing, so stored runs stay pending).
async fn setup_with(default_quota: Quota, options: AgentOptions, claims: ClaimLimits) -> Setup {
    let repos = MemoryStore::new().repositories();
    let deps = Deps::system(repos.clone());
    let budgets = Arc::new(Mutex::new(Vec::new()));
    let seen = budgets.clone();
    let endings: Arc<Mutex<VecDeque<(&'static str, f64)>>> = Arc::default();
    let next = endings.clone();
    let mut runner = MockAgentRunner::new();
    runner.expect_start().returning(move |spec, _| {
        let mut seen = seen.lock().unwrap();
        seen.push(spec.options.max_budget_usd.map(UsdBudget::value));
        let (subtype, cost) = next
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(("success", TURN_COST_USD));
        Ok(agent(subtype, cost, 4000 + seen.len() as u32))
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
        options,
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
        endings,
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
        ..Quota::default()
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
        ..Quota::default()
    };
    let s = setup_with(quota, AgentOptions::default(), paused).await;
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
            ..Quota::default()
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
            ..Quota::default()
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
            ..Quota::default()
        },
        None,
    )
    .await;
    s.run_to_end().await;
    s.run_to_end().await; // $0.80 now: over the $0.50 budget.
    assert_eq!(refused_with(s.execute().await), QuotaLimit::MaxDailyCostUsd);
    assert_eq!(s.stored_runs().await, 2);
}

fn usd(value: f64) -> Option<UsdBudget> {
    Some(UsdBudget::new(value).unwrap())
}

impl Setup {
    /// Queues a run and waits for its budget approval, which it returns.
    async fn budget_approval(&self) -> (overseer_domain::TaskExecution, Approval) {
        let queued = self.execute().await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let pending = self
                .repos
                .approvals
                .list(
                    Scope::Owner(self.owner),
                    ApprovalFilter {
                        status: Some(ApprovalStatus::Pending),
                        session: None,
                    },
                    PageRequest::first(10),
                )
                .await
                .unwrap();
            if let Some(approval) = pending.items.into_iter().next() {
                return (queued, approval);
            }
            assert!(tokio::time::Instant::now() < deadline, "no approval came");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn answer(&self, approval: &Approval, allow: bool) {
        self.services
            .approvals
            .decide(&RequestContext::internal(self.owner), approval.id, allow)
            .await
            .unwrap();
    }

    async fn finished(
        &self,
        run: &overseer_domain::TaskExecution,
    ) -> overseer_domain::TaskExecution {
        overseer_testkit::waits::run_finished(&self.repos, run.id, Duration::from_secs(10)).await
    }

    /// The next agent's turn ends at its `--max-budget-usd`, having cost `cost`.
    fn first_agent_stops_at_its_budget(&self, cost: f64) {
        self.endings
            .lock()
            .unwrap()
            .push_back(("error_max_budget_usd", cost));
    }

    fn budgets(&self) -> Vec<Option<f64>> {
        self.budgets.lock().unwrap().clone()
    }
}

fn asking_above(threshold: f64) -> Quota {
    Quota {
        ask_above_usd: usd(threshold),
        ..Quota::default()
    }
}

#[tokio::test]
async fn at_the_soft_threshold_a_run_asks_and_finishes_when_allowed() {
    let s = setup(asking_above(0.5), None).await;
    s.first_agent_stops_at_its_budget(0.55);
    let (run, approval) = s.budget_approval().await;
    assert_eq!(approval.kind, ApprovalKind::Budget);
    assert_eq!(approval.tool_input["threshold_usd"], json!(0.5));
    assert_eq!(approval.tool_input["spent_usd"], json!(0.55));
    assert_eq!(
        s.budgets(),
        vec![Some(0.5)],
        "the first agent stops at the threshold"
    );
    s.answer(&approval, true).await;
    let run = s.finished(&run).await;
    assert_eq!(
        run.status(),
        ExecutionStatus::Completed,
        "{:?}",
        run.error_message
    );
    // A second agent went on, with no budget left to ask about.
    assert_eq!(s.budgets(), vec![Some(0.5), None]);
    assert!((s.spent_today().await - (0.55 + TURN_COST_USD)).abs() < 1e-9);
    let session = run.session_id.unwrap();
    let messages = s.repos.messages.list_after(session, 0, 100).await.unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.user_text().as_deref() == Some("Continue where you stopped.")),
        "the conversation goes on with a message saying so"
    );
}

#[tokio::test]
async fn at_the_soft_threshold_a_denied_run_stops_with_the_reason() {
    let s = setup(asking_above(0.5), None).await;
    s.first_agent_stops_at_its_budget(0.55);
    let (run, approval) = s.budget_approval().await;
    s.answer(&approval, false).await;
    let run = s.finished(&run).await;
    assert_eq!(run.status(), ExecutionStatus::Failed);
    let reason = run.error_message.unwrap();
    assert!(
        reason.contains("budget threshold of $0.50") && reason.contains("denied"),
        "{reason}"
    );
    assert_eq!(s.budgets().len(), 1, "no agent went on");
}

#[tokio::test]
async fn a_hard_budget_still_stops_a_run_without_asking() {
    let quota = Quota {
        max_daily_cost_usd: usd(1.0),
        ask_above_usd: usd(5.0),
        ..Quota::default()
    };
    let s = setup(quota, None).await;
    s.first_agent_stops_at_its_budget(1.0);
    let run = s.run_to_end().await;
    assert_eq!(run.status(), ExecutionStatus::Failed);
    let reason = run.error_message.unwrap();
    assert!(
        reason.contains("max_daily_cost_usd budget is reached"),
        "{reason}"
    );
    assert_eq!(s.budgets(), vec![Some(1.0)]);
    let asked = s
        .repos
        .approvals
        .list(
            Scope::Admin,
            ApprovalFilter::default(),
            PageRequest::first(1),
        )
        .await
        .unwrap();
    assert_eq!(asked.total, 0, "a hard budget asks nobody");
    assert_eq!(refused_with(s.execute().await), QuotaLimit::MaxDailyCostUsd);
}

#[tokio::test]
async fn a_monthly_budget_caps_the_agent_and_then_refuses() {
    let quota = Quota {
        max_monthly_cost_usd: usd(1.0),
        ..Quota::default()
    };
    let s = setup(quota, None).await;
    let today = time::OffsetDateTime::now_utc().date();
    let first = today.replace_day(1).unwrap();
    s.repos.quotas.add_cost(s.owner, first, 0.7).await.unwrap();
    s.run_to_end().await;
    let budgets = s.budgets();
    assert!((budgets[0].unwrap() - 0.3).abs() < 1e-9, "{budgets:?}");
    assert_eq!(
        refused_with(s.execute().await),
        QuotaLimit::MaxMonthlyCostUsd
    );
    let status = s.services.quotas.status_of(s.owner).await.unwrap();
    assert!((status.cost_this_month_usd - (0.7 + TURN_COST_USD)).abs() < 1e-9);
}

#[tokio::test]
async fn a_tasks_monthly_budget_caps_its_runs_and_then_refuses_them() {
    let options = AgentOptions {
        monthly_budget_usd: usd(0.5),
        ..AgentOptions::default()
    };
    let claims = ClaimLimits {
        global: 8,
        per_user: 8,
    };
    let s = setup_with(Quota::default(), options, claims).await;
    s.run_to_end().await;
    s.run_to_end().await;
    let budgets = s.budgets();
    assert!((budgets[0].unwrap() - 0.5).abs() < 1e-9, "{budgets:?}");
    assert!((budgets[1].unwrap() - 0.1).abs() < 1e-9, "{budgets:?}");
    assert_eq!(
        refused_with(s.execute().await),
        QuotaLimit::TaskMonthlyBudgetUsd
    );
    let today = time::OffsetDateTime::now_utc().date();
    let spent = s
        .repos
        .quotas
        .task_cost_between(s.task.id, today.replace_day(1).unwrap(), today)
        .await
        .unwrap();
    assert!((spent - 2.0 * TURN_COST_USD).abs() < 1e-9, "{spent}");
}
