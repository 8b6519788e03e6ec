//! A fault at any step of an execution leaves it `failed` with a reason and its session
//! `failed`: nothing stays `running`, `connecting` or `processing`. Mocks stand for the agent,
//! the working directories and the report files; the store is the in-memory one.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use overseer_domain::{
    AgentOptions, AuditAction, ExecutionStatus, NewTask, ReportFormat, SessionStatus,
    TaskExecution, TaskName, TriggerType,
};
use overseer_ports::agent::{
    AgentError, AgentEvent, AgentFailure, MockAgentRunner, TokenUsage, TurnResult,
};
use overseer_ports::repositories::{AuditFilter, SessionFilter};
use overseer_ports::{
    FileError, MockReportFiles, MockWorkspaces, PageRequest, Repositories, Scope,
};
use overseer_services::InProcessBroadcaster;
use overseer_services::TaskService;
use overseer_services::{Adapters, Deps, RequestContext, Services, ServicesConfig};
use overseer_testkit::{MemoryStore, fixtures};
use serde_json::json;
use support::{init_event, scripted_agent};

/// What goes wrong.
#[derive(Clone, Copy, Debug)]
enum Fault {
    WorkdirCannotBeCreated,
    AgentCannotStart,
    AgentDiesMidTurn,
    AgentReportsAnError,
    ReportCannotBeWritten,
}

fn result(is_error: bool) -> AgentEvent {
    AgentEvent::TurnEnded(TurnResult {
        subtype: "success".into(),
        is_error,
        result: Some(if is_error {
            "API Error: 500".into()
        } else {
            "All healthy.".into()
        }),
        num_turns: 1,
        duration_ms: 5,
        total_cost_usd: 0.01,
        usage: TokenUsage {
            input_tokens: 10,
            output_tokens: 5,
            ..TokenUsage::default()
        },
        permission_denials: vec![],
        structured_output: None,
        terminal_reason: None,
        api_error_status: is_error.then_some(500),
        agent_session_id: Some("cli-1".into()),
        model: None,
        raw: json!({"type": "result"}),
    })
}

fn runner(fault: Fault) -> MockAgentRunner {
    let mut runner = MockAgentRunner::new();
    runner.expect_start().returning(move |_, _| {
        let init = init_event();
        match fault {
            Fault::AgentCannotStart => Err(AgentError::Spawn("claude: not found".into())),
            Fault::AgentDiesMidTurn => Ok(scripted_agent(vec![
                init,
                AgentEvent::Failed(AgentFailure {
                    message: "the agent exited unexpectedly".into(),
                    exit_code: Some(137),
                    stderr_tail: String::new(),
                }),
            ])),
            Fault::AgentReportsAnError => Ok(scripted_agent(vec![init, result(true)])),
            _ => Ok(scripted_agent(vec![init, result(false)])),
        }
    });
    runner
}

struct Setup {
    repos: Repositories,
    tasks: Arc<TaskService>,
    ctx: RequestContext,
}

async fn setup(fault: Fault) -> Setup {
    let repos = MemoryStore::new().repositories();
    let deps = Deps::system(repos.clone());
    let mut workspaces = MockWorkspaces::new();
    workspaces.expect_create().returning(move |id| match fault {
        Fault::WorkdirCannotBeCreated => Err(FileError {
            operation: "creating the working directory",
            reason: "permission denied".into(),
        }),
        _ => Ok(PathBuf::from(format!("/tmp/overseer-mock/{id}"))),
    });
    let mut files = MockReportFiles::new();
    files.expect_write().returning(move |id, _, _| match fault {
        Fault::ReportCannotBeWritten => Err(FileError {
            operation: "writing the report",
            reason: "read-only file system".into(),
        }),
        _ => Ok(format!("reports/{id}/report.md")),
    });
    let adapters = Adapters {
        deps: deps.clone(),
        runner: Arc::new(runner(fault)),
        workspaces: Arc::new(workspaces),
        report_files: Arc::new(files),
        report_renderer: Arc::new(overseer_reports::DocumentRenderer),
        calendar: Arc::new(overseer_calendar::CronCalendar),
        broadcaster: Arc::new(InProcessBroadcaster::default()),
        telemetry: Arc::new(overseer_ports::NoTelemetry),
        cluster: None,
    };
    let services = Services::build(adapters, ServicesConfig::default());
    // Runs need the queue worker; the loops end with the services.
    drop(services.start());
    let owner = fixtures::user("ops@example.com");
    repos.users.insert(&owner).await.unwrap();
    Setup {
        tasks: services.tasks,
        ctx: RequestContext::internal(owner.id),
        repos,
    }
}

/// Runs one execution under `fault` and returns it once its run is over.
async fn run(fault: Fault) -> (Setup, TaskExecution) {
    let s = setup(fault).await;
    let new = NewTask {
        name: TaskName::new("Kubernetes Cluster Health Check").unwrap(),
        description: None,
        template: fixtures::health_check_template(),
        options: AgentOptions::default(),
        generate_report: true,
        report_format: ReportFormat::Markdown,
        schedule: None,
    };
    let task = s.tasks.create(&s.ctx, new).await.unwrap();
    let variables = BTreeMap::from([("cluster_name".to_owned(), json!("production"))]);
    let queued = s
        .tasks
        .execute(&s.ctx, task.id, variables, TriggerType::Manual)
        .await
        .unwrap();
    let execution =
        overseer_testkit::waits::run_finished(&s.repos, queued.id, Duration::from_secs(10)).await;
    (s, execution)
}

/// Nothing is left mid-flight.
async fn nothing_in_flight(repos: &Repositories) {
    let all = repos
        .sessions
        .list(
            Scope::Admin,
            SessionFilter::default(),
            PageRequest::default(),
        )
        .await
        .unwrap();
    for session in all.items {
        assert!(
            !matches!(
                session.status(),
                SessionStatus::Connecting | SessionStatus::Processing
            ),
            "session left {}",
            session.status()
        );
    }
}

async fn failed_with(fault: Fault, reason: &str) -> (Setup, TaskExecution) {
    let (s, execution) = run(fault).await;
    assert_eq!(execution.status(), ExecutionStatus::Failed, "{fault:?}");
    let message = execution.error_message.clone().unwrap_or_default();
    assert!(
        message.contains(reason),
        "{fault:?}: '{message}' should mention '{reason}'"
    );
    assert!(execution.completed_at.is_some());
    nothing_in_flight(&s.repos).await;
    (s, execution)
}

#[tokio::test]
async fn a_workdir_that_cannot_be_created_fails_the_run_and_writes_no_session() {
    let (s, execution) = failed_with(Fault::WorkdirCannotBeCreated, "working directory").await;
    assert_eq!(execution.session_id, None);
    let sessions = s
        .repos
        .sessions
        .list(
            Scope::Admin,
            SessionFilter::default(),
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(sessions.total, 0, "no half-written session");
}

#[tokio::test]
async fn an_agent_that_cannot_start_fails_the_run_and_the_session() {
    let (s, execution) = failed_with(Fault::AgentCannotStart, "claude: not found").await;
    let session = s
        .repos
        .sessions
        .get(execution.session_id.unwrap(), Scope::Admin)
        .await
        .unwrap();
    assert_eq!(session.status(), SessionStatus::Failed);
    assert!(session.error_message.unwrap().contains("not found"));
}

#[tokio::test]
async fn an_agent_dying_mid_turn_fails_the_run_and_the_session() {
    let (s, execution) = failed_with(Fault::AgentDiesMidTurn, "exited").await;
    let session = s
        .repos
        .sessions
        .get(execution.session_id.unwrap(), Scope::Admin)
        .await
        .unwrap();
    assert_eq!(session.status(), SessionStatus::Failed);
    let messages = s
        .repos
        .messages
        .list_after(session.id, 0, 100)
        .await
        .unwrap();
    assert!(
        messages.iter().any(|m| m.body.raw["type"] == json!("error")
            && matches!(
                m.body.blocks.as_slice(),
                [overseer_domain::ContentBlock::Error { .. }]
            )),
        "the failure is in the record"
    );
}

#[tokio::test]
async fn an_agent_error_result_fails_the_run_with_the_agents_words() {
    let (s, execution) = failed_with(Fault::AgentReportsAnError, "API Error: 500").await;
    assert!(
        execution.result_message_id.is_some(),
        "the result message is linked"
    );
    let session = s
        .repos
        .sessions
        .get(execution.session_id.unwrap(), Scope::Admin)
        .await
        .unwrap();
    assert_eq!(
        session.status(),
        SessionStatus::Active,
        "the session itself is fine and idle"
    );
}

#[tokio::test]
async fn a_report_that_cannot_be_written_leaves_the_run_completed_and_records_why() {
    let (s, execution) = run(Fault::ReportCannotBeWritten).await;
    assert_eq!(execution.status(), ExecutionStatus::Completed);
    assert_eq!(execution.report_id, None);
    let filter = AuditFilter {
        action: Some(AuditAction::TaskExecuted),
        ..AuditFilter::default()
    };
    let entry = &s
        .repos
        .audit_logs
        .list(Scope::Admin, filter, PageRequest::default())
        .await
        .unwrap()
        .items[0];
    assert!(
        entry.details["report_error"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{}",
        entry.details
    );
    assert_eq!(
        s.repos
            .reports
            .list_for_session(
                execution.session_id.unwrap(),
                Scope::Admin,
                PageRequest::default()
            )
            .await
            .unwrap()
            .total,
        0,
        "no report row without its file"
    );
}
