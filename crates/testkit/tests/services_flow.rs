//! The execution flow through the services with real adapters: the seed scenario ("Kubernetes
//! Cluster Health Check") on the in-memory store with the fake CLI, and on SQLite and Postgres
//! with the real CLI; `ask` rules; every report format.
#![allow(clippy::unwrap_used)]

#[path = "services/world.rs"]
mod world;

use std::collections::BTreeMap;
use std::time::Duration;

use overseer_domain::{
    AgentOptions, ExecutionStatus, MessageType, NewTask, PermissionDecision, ReportFormat,
    SessionStatus, TaskName, ToolCallStatus, TriggerType,
};
use overseer_ports::repositories::AuditFilter;
use overseer_ports::{PageRequest, Repositories, Scope};
use overseer_services::ReportSubject;
use overseer_testkit::MemoryStore;
use overseer_testkit::fixtures;
use overseer_testkit::script::{Reply, Script, content_text};
use serde_json::{Value, json};
use world::{Backend, World};

const MARKER: &str = "production cluster";

fn seed_script() -> Script {
    Script::new(
        MARKER,
        vec![
            Reply::bash(
                "echo 'NAME READY STATUS'; echo 'api-0 1/1 Running'; echo 'web-0 1/1 Running'",
            ),
            Reply::text("All pods in production are healthy: api-0 and web-0 are Running."),
        ],
    )
}

fn seed_task() -> NewTask {
    NewTask {
        name: TaskName::new("Kubernetes Cluster Health Check").unwrap(),
        description: Some("Checks the pods of a cluster".to_owned()),
        template: fixtures::health_check_template(),
        options: AgentOptions::from_json(
            json!({"allowed_tools": ["Bash(echo:*)"], "max_turns": 5}),
        )
        .unwrap(),
        generate_report: true,
        report_format: ReportFormat::Markdown,
        schedule: None,
    }
}

/// Plays the seed scenario and checks every record it leaves.
async fn seed_scenario(world: &World) {
    let ctx = world.ctx();
    let task = world.tasks.create(&ctx, seed_task()).await.unwrap();
    let variables = BTreeMap::from([("cluster_name".to_owned(), json!("production"))]);
    let queued = world
        .tasks
        .execute(&ctx, task.id, variables, TriggerType::Manual)
        .await
        .unwrap();
    assert_eq!(
        queued.status(),
        ExecutionStatus::Pending,
        "execute returns at once"
    );

    let execution = world.finished(queued.id).await;
    assert_eq!(
        execution.status(),
        ExecutionStatus::Completed,
        "{:?}",
        execution.error_message
    );
    let session_id = execution.session_id.unwrap();

    // The rendered prompt is what the agent received.
    let calls = world.model_calls(MARKER);
    assert!(!calls.is_empty());
    assert!(
        content_text(&calls[0][0]["content"])
            .contains("Check the health of the production cluster."),
        "{:?}",
        calls[0][0]
    );

    // Transitions, in order.
    assert_eq!(
        *world.executions.statuses.lock().unwrap(),
        [
            ExecutionStatus::Pending,
            ExecutionStatus::Running,
            ExecutionStatus::Completed
        ]
    );
    let session_moves: Vec<(String, String)> = world
        .broadcaster
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.session_id == session_id && e.kind().as_str() == "status")
        .map(|e| {
            (
                e.payload()["from"].as_str().unwrap().to_owned(),
                e.payload()["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("created", "connecting"),
        ("connecting", "active"),
        ("active", "processing"),
        ("processing", "active"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(session_moves, expected);
    let session = world
        .repos
        .sessions
        .get(session_id, Scope::Admin)
        .await
        .unwrap();
    assert_eq!(session.status(), SessionStatus::Active);
    assert_eq!(
        session.name.as_str(),
        "Task: Kubernetes Cluster Health Check (manual)"
    );
    assert!(
        session
            .working_directory_path
            .as_deref()
            .unwrap()
            .ends_with(&format!("agent-workdirs/active/{session_id}"))
    );

    // Messages 1..n, gap-free, in protocol order.
    let messages = world
        .repos
        .messages
        .list_after(session_id, 0, 1000)
        .await
        .unwrap();
    let numbers: Vec<u64> = messages.iter().map(|m| m.sequence_number).collect();
    assert_eq!(numbers, (1..=messages.len() as u64).collect::<Vec<_>>());
    let kinds: Vec<MessageType> = messages
        .iter()
        .map(|m| m.message_type)
        .filter(|t| *t != MessageType::System)
        .collect();
    assert_eq!(
        kinds,
        [
            MessageType::User,
            MessageType::Assistant,
            MessageType::ToolResult,
            MessageType::Assistant,
            MessageType::Result
        ]
    );
    assert_eq!(session.usage.message_count, messages.len() as u64);
    let result_message = messages
        .iter()
        .find(|m| m.message_type == MessageType::Result)
        .unwrap();

    // The tool call row.
    let calls = world
        .repos
        .tool_calls
        .list_for_session(session_id, PageRequest::default())
        .await
        .unwrap()
        .items;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let call = &calls[0];
    assert_eq!(call.tool_name, "Bash");
    assert_eq!(call.status, ToolCallStatus::Completed);
    assert_eq!(call.permission_decision, Some(PermissionDecision::Allowed));
    assert!(
        call.tool_output
            .as_deref()
            .unwrap()
            .contains("api-0 1/1 Running"),
        "{call:#?}"
    );
    assert!(call.message_id.is_some() && call.started_at.is_some() && call.completed_at.is_some());

    // Audit: the decisions and the run, with the caller's origin on the request's entries.
    let audit = world
        .repos
        .audit_logs
        .list(
            Scope::Admin,
            AuditFilter::default(),
            PageRequest::new(100, 0),
        )
        .await
        .unwrap();
    let actions: Vec<&str> = audit.items.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "task.created",
        "session.created",
        "tool.pre_use",
        "tool.permission_granted",
        "tool.post_use",
        "report.generated",
        "task.executed",
    ] {
        assert!(actions.contains(&action), "missing {action} in {actions:?}");
    }
    let executed = audit
        .items
        .iter()
        .find(|e| e.action.as_str() == "task.executed")
        .unwrap();
    assert_eq!(
        executed.resource_id.as_deref(),
        Some(execution.id.to_string().as_str())
    );
    assert_eq!(executed.details["status"], json!("completed"));
    assert_eq!(executed.details["trigger"], json!("manual"));
    assert_eq!(executed.details["session_id"], json!(session_id));
    let created = audit
        .items
        .iter()
        .find(|e| e.action.as_str() == "task.created")
        .unwrap();
    assert_eq!(created.ip_address.as_deref(), Some("203.0.113.7"));
    assert_eq!(created.user_agent.as_deref(), Some("seed-test/1.0"));

    // The report file.
    let report = world
        .repos
        .reports
        .get(execution.report_id.unwrap(), Scope::Admin)
        .await
        .unwrap();
    assert_eq!(report.file_path, format!("reports/{}/report.md", report.id));
    let text = std::fs::read_to_string(world.data_dir.join(&report.file_path)).unwrap();
    for needle in [
        "# Kubernetes Cluster Health Check",
        "`cluster_name` = `production`",
        "api-0 1/1 Running",
        "completed",
    ] {
        assert!(text.contains(needle), "report lacks {needle}:\n{text}");
    }

    // Tokens and cost, and the execution's final fields.
    assert!(
        session.usage.input_tokens > 0 && session.usage.output_tokens > 0,
        "{:?}",
        session.usage
    );
    assert!(session.usage.total_cost_usd > 0.0, "{:?}", session.usage);
    assert!(execution.started_at.is_some() && execution.completed_at.is_some());
    assert!(execution.duration_seconds.unwrap() >= 0.0);
    assert_eq!(execution.result_message_id, Some(result_message.id));
    assert_eq!(execution.snapshot, task.snapshot());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenario_on_memory_store_with_fake_cli() {
    let world = World::new(
        MemoryStore::new().repositories(),
        Backend::FakeCli,
        vec![seed_script()],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    seed_scenario(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenario_on_sqlite_with_real_cli() {
    let (store, _guard) = overseer_store::testing::sqlite_file().await;
    let Some(world) = World::new(
        store.repositories(),
        Backend::RealCli,
        vec![seed_script()],
        Duration::from_secs(5),
    )
    .await
    else {
        return;
    };
    seed_scenario(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenario_on_postgres_with_real_cli() {
    let Some((store, _guard)) = overseer_store::testing::postgres().await else {
        return;
    };
    let Some(world) = World::new(
        store.repositories(),
        Backend::RealCli,
        vec![seed_script()],
        Duration::from_secs(5),
    )
    .await
    else {
        return;
    };
    seed_scenario(&world).await;
}

/// Runs a one-Bash-tool session under an `ask` rule; `answer` is what the owner says, if anything.
async fn ask_rule(answer: Option<bool>, marker: &str) -> (World, overseer_domain::SessionId) {
    let script = Script::new(
        marker,
        vec![
            Reply::bash("echo approved > approved.txt"),
            Reply::text("Done."),
        ],
    );
    let world = World::new(
        MemoryStore::new().repositories(),
        Backend::FakeCli,
        vec![script],
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    let ctx = world.ctx();
    let options = AgentOptions::from_json(json!({"ask_tools": ["Bash"]})).unwrap();
    let session = world
        .sessions
        .create(
            &ctx,
            overseer_domain::SessionName::new("ask").unwrap(),
            None,
            overseer_domain::SessionMode::Interactive,
            options,
        )
        .await
        .unwrap();
    let turn = {
        let (sessions, ctx, id) = (world.sessions.clone(), ctx.clone(), session.id);
        let text = format!("{marker}: write the file");
        tokio::spawn(async move { sessions.run_turn(&ctx, id, &text).await })
    };
    let request = tokio::time::timeout(
        Duration::from_secs(30),
        world.approval_events.lock().await.recv(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(request.payload()["tool_name"], json!("Bash"));
    if let Some(allow) = answer {
        let id = request.payload()["approval_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        world.approvals.decide(&ctx, id, allow).await.unwrap();
    }
    turn.await.unwrap().unwrap();
    (world, session.id)
}

async fn audit_actions(repos: &Repositories) -> Vec<(String, Value)> {
    repos
        .audit_logs
        .list(
            Scope::Admin,
            AuditFilter::default(),
            PageRequest::new(100, 0),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.action.to_string(), e.details))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_rule_approved_runs_the_tool() {
    let (world, session) = ask_rule(Some(true), "ask-approve").await;
    let workdir = world
        .repos
        .sessions
        .get(session, Scope::Admin)
        .await
        .unwrap()
        .working_directory_path
        .unwrap();
    assert!(std::path::Path::new(&workdir).join("approved.txt").exists());
    let audit = audit_actions(&world.repos).await;
    assert!(audit.iter().any(|(a, _)| a == "tool.approval_requested"));
    assert!(audit.iter().any(|(a, d)| a == "tool.permission_granted"
        && d["decided_by"].as_str().unwrap().starts_with("user:")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_rule_denied_does_not_run_the_tool() {
    let (world, session) = ask_rule(Some(false), "ask-deny").await;
    let workdir = world
        .repos
        .sessions
        .get(session, Scope::Admin)
        .await
        .unwrap()
        .working_directory_path
        .unwrap();
    assert!(!std::path::Path::new(&workdir).join("approved.txt").exists());
    let audit = audit_actions(&world.repos).await;
    assert!(
        audit
            .iter()
            .any(|(a, d)| a == "tool.permission_denied"
                && d["reason"] == json!("Denied by approver"))
    );
    let calls = world
        .repos
        .tool_calls
        .list_for_session(session, PageRequest::default())
        .await
        .unwrap()
        .items;
    assert_eq!(calls[0].status, ToolCallStatus::Denied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_rule_unanswered_expires_to_deny() {
    let (world, session) = ask_rule(None, "ask-timeout").await;
    let workdir = world
        .repos
        .sessions
        .get(session, Scope::Admin)
        .await
        .unwrap()
        .working_directory_path
        .unwrap();
    assert!(!std::path::Path::new(&workdir).join("approved.txt").exists());
    let audit = audit_actions(&world.repos).await;
    assert!(
        audit
            .iter()
            .any(|(a, d)| a == "tool.permission_denied" && d["decided_by"] == json!("timeout"))
    );
    assert!(
        world
            .repos
            .approvals
            .list_pending(session)
            .await
            .unwrap()
            .is_empty(),
        "the approval expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_format_is_produced_and_the_pdf_has_the_task_name() {
    let world = World::new(
        MemoryStore::new().repositories(),
        Backend::FakeCli,
        vec![seed_script()],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let ctx = world.ctx();
    let task = world.tasks.create(&ctx, seed_task()).await.unwrap();
    let variables = BTreeMap::from([("cluster_name".to_owned(), json!("production"))]);
    let queued = world
        .tasks
        .execute(&ctx, task.id, variables, TriggerType::Manual)
        .await
        .unwrap();
    let execution = world.finished(queued.id).await;
    let session = execution.session_id.unwrap();
    for format in [
        ReportFormat::Markdown,
        ReportFormat::Html,
        ReportFormat::Json,
        ReportFormat::Pdf,
    ] {
        let subject = ReportSubject {
            task_name: Some("Kubernetes Cluster Health Check"),
            execution: Some(&execution),
            auto_generated: false,
        };
        let report = world
            .reports
            .generate(session, format, subject)
            .await
            .unwrap();
        let path = world.data_dir.join(&report.file_path);
        let bytes = std::fs::read(&path).unwrap();
        let text = match format {
            ReportFormat::Pdf => {
                let out = std::process::Command::new("pdftotext")
                    .arg(&path)
                    .arg("-")
                    .output()
                    .expect("pdftotext (poppler-utils)");
                assert!(
                    out.status.success(),
                    "pdftotext failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8(out.stdout).unwrap()
            }
            ReportFormat::Json => {
                let value: Value = serde_json::from_slice(&bytes).unwrap();
                value["task_name"].as_str().unwrap().to_owned()
            }
            _ => String::from_utf8(bytes).unwrap(),
        };
        assert!(
            text.contains("Kubernetes Cluster Health Check"),
            "{format}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_variables_write_nothing() {
    let world = World::new(
        MemoryStore::new().repositories(),
        Backend::FakeCli,
        vec![],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let ctx = world.ctx();
    let task = world.tasks.create(&ctx, seed_task()).await.unwrap();
    let err = world
        .tasks
        .execute(
            &ctx,
            task.id,
            BTreeMap::from([("cluster".to_owned(), json!(1))]),
            TriggerType::Manual,
        )
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("cluster_name") && message.contains("cluster"),
        "{message}"
    );
    let page = world
        .tasks
        .executions(&ctx, task.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.total, 0, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_running_and_pending_runs() {
    let (world, task) = sleeping_task("cancel-me").await;
    let ctx = world.ctx();
    let vars = || BTreeMap::from([("cluster_name".to_owned(), json!("production"))]);
    // Two runs take both execution slots; the third waits as pending.
    let first = world
        .tasks
        .execute(&ctx, task.id, vars(), TriggerType::Manual)
        .await
        .unwrap();
    let second = world
        .tasks
        .execute(&ctx, task.id, vars(), TriggerType::Manual)
        .await
        .unwrap();
    let third = world
        .tasks
        .execute(&ctx, task.id, vars(), TriggerType::Manual)
        .await
        .unwrap();

    let cancelled = world.tasks.cancel(&ctx, third.id).await.unwrap();
    assert_eq!(
        cancelled.status(),
        ExecutionStatus::Cancelled,
        "a pending run is cancelled at once"
    );

    // Wait until the first run's tool is running, then cancel it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let execution = world
            .repos
            .executions
            .get(first.id, Scope::Admin)
            .await
            .unwrap();
        if let Some(session) = execution.session_id {
            let calls = world
                .repos
                .tool_calls
                .list_for_session(session, PageRequest::default())
                .await
                .unwrap()
                .items;
            if calls.iter().any(|c| c.status == ToolCallStatus::Running) {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first run never started its tool"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = std::time::Instant::now();
    world.tasks.cancel(&ctx, first.id).await.unwrap();
    world.tasks.cancel(&ctx, second.id).await.unwrap();
    let first = world.finished(first.id).await;
    assert_eq!(first.status(), ExecutionStatus::Cancelled);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the interrupt ended the turn in {:?}",
        asked.elapsed()
    );
    assert_eq!(
        world.finished(second.id).await.status(),
        ExecutionStatus::Cancelled
    );

    // Idempotent, and a finished run cannot be cancelled.
    assert_eq!(
        world.tasks.cancel(&ctx, first.id).await.unwrap().status(),
        ExecutionStatus::Cancelled
    );
    let session = world
        .repos
        .sessions
        .get(first.session_id.unwrap(), Scope::Admin)
        .await
        .unwrap();
    assert_ne!(
        session.status(),
        SessionStatus::Processing,
        "nothing left answering"
    );
    let audit = audit_actions(&world.repos).await;
    assert!(audit.iter().filter(|(a, _)| a == "task.cancelled").count() >= 3);
}

/// A run past its task's timeout is interrupted and failed with the reason; its session is
/// no longer answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_its_timeout_fails_with_the_reason() {
    let options = AgentOptions {
        timeout_seconds: Some(overseer_domain::ExecutionTimeout::new(1).unwrap()),
        ..AgentOptions::default()
    };
    let (world, task) = sleeping_task_with("time-me-out", options).await;
    let ctx = world.ctx();
    let vars = BTreeMap::from([("cluster_name".to_owned(), json!("production"))]);
    let started = std::time::Instant::now();
    let run = world
        .tasks
        .execute(&ctx, task.id, vars, TriggerType::Manual)
        .await
        .unwrap();
    let run = world.finished(run.id).await;
    assert_eq!(run.status(), ExecutionStatus::Failed);
    assert_eq!(run.error_message.as_deref(), Some("timed out after 1 s"));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "stopped in {:?}, not after the agent's 30 s sleep",
        started.elapsed()
    );
    let session = world
        .repos
        .sessions
        .get(run.session_id.unwrap(), Scope::Admin)
        .await
        .unwrap();
    assert_ne!(session.status(), SessionStatus::Processing);
    let audit = audit_actions(&world.repos).await;
    assert!(
        audit
            .iter()
            .any(|(action, details)| action == "task.executed"
                && details["error"] == json!("timed out after 1 s"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_fails_running_runs_and_leaves_queued_ones_pending() {
    let (world, task) = sleeping_task("shutdown-me").await;
    let ctx = world.ctx();
    let vars = || BTreeMap::from([("cluster_name".to_owned(), json!("production"))]);
    let runs: Vec<_> = futures_join(&world, &ctx, task.id, vars).await;
    // Both slots busy with `sleep 30`; the third waits. A claimed run whose agent has not
    // started yet is handed back at shutdown, so wait until both agents are in their turn.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for run in &runs[..2] {
        loop {
            let execution = world
                .repos
                .executions
                .get(run.id, Scope::Admin)
                .await
                .unwrap();
            let session = match execution.session_id {
                Some(id) => Some(world.repos.sessions.get(id, Scope::Admin).await.unwrap()),
                None => None,
            };
            if session.is_some_and(|s| s.status() == SessionStatus::Processing) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the runs did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    world.services.shutdown(Duration::from_millis(300)).await;
    for run in &runs[..2] {
        let execution = world
            .repos
            .executions
            .get(run.id, Scope::Admin)
            .await
            .unwrap();
        assert_eq!(execution.status(), ExecutionStatus::Failed);
        assert_eq!(execution.error_message.as_deref(), Some("shutdown"));
    }
    assert_eq!(
        world
            .repos
            .executions
            .get(runs[2].id, Scope::Admin)
            .await
            .unwrap()
            .status(),
        ExecutionStatus::Pending
    );
}

async fn futures_join(
    world: &World,
    ctx: &overseer_services::RequestContext,
    task: overseer_domain::TaskId,
    vars: impl Fn() -> BTreeMap<String, Value>,
) -> Vec<overseer_domain::TaskExecution> {
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(
            world
                .tasks
                .execute(ctx, task, vars(), TriggerType::Manual)
                .await
                .unwrap(),
        );
    }
    runs
}

/// A world whose task `marker: {cluster_name}` blocks in `sleep 30` on the fake CLI, and that
/// task: for cancel and shutdown.
async fn sleeping_task(marker: &str) -> (World, overseer_domain::Task) {
    sleeping_task_with(marker, AgentOptions::default()).await
}

async fn sleeping_task_with(marker: &str, options: AgentOptions) -> (World, overseer_domain::Task) {
    let script = Script::new(marker, vec![Reply::bash("sleep 30"), Reply::text("never")]);
    let world = World::new(
        MemoryStore::new().repositories(),
        Backend::FakeCli,
        vec![script],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let mut new = seed_task();
    new.template = overseer_domain::TaskTemplate::new(
        overseer_domain::PromptTemplate::parse(format!("{marker}: {{cluster_name}}")).unwrap(),
        fixtures::health_check_template().variables().to_vec(),
    )
    .unwrap();
    new.options = options;
    let task = world.tasks.create(&world.ctx(), new).await.unwrap();
    (world, task)
}

/// Fair share: X queues 50 runs, then Y queues one; with a global limit of 2, Y's run starts
/// before X's third.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_users_backlog_does_not_starve_another_user() {
    let script = Script::new(
        "fair-run",
        // Long enough that X's first two runs are still running while all 51 are queued,
        // even on a loaded machine: X's third may not start before Y's run exists.
        vec![Reply::bash("sleep 3"), Reply::text("ok")],
    );
    let world = World::new(
        MemoryStore::new().repositories(),
        Backend::FakeCli,
        vec![script],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let x = world.ctx();
    let y_user = fixtures::user("y@example.com");
    world.repos.users.insert(&y_user).await.unwrap();
    let y = overseer_services::RequestContext::internal(y_user.id);
    let mut new = seed_task();
    new.template = overseer_domain::TaskTemplate::new(
        overseer_domain::PromptTemplate::parse("fair-run: {cluster_name}").unwrap(),
        fixtures::health_check_template().variables().to_vec(),
    )
    .unwrap();
    new.options = AgentOptions::default();
    let x_task = world.tasks.create(&x, new.clone()).await.unwrap();
    let y_task = world.tasks.create(&y, new).await.unwrap();
    let vars = || BTreeMap::from([("cluster_name".to_owned(), json!("production"))]);
    let mut x_runs = Vec::new();
    for _ in 0..50 {
        x_runs.push(
            world
                .tasks
                .execute(&x, x_task.id, vars(), TriggerType::Manual)
                .await
                .unwrap()
                .id,
        );
    }
    let y_run = world
        .tasks
        .execute(&y, y_task.id, vars(), TriggerType::Manual)
        .await
        .unwrap()
        .id;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let position = |id| {
        world
            .executions
            .claims
            .lock()
            .unwrap()
            .iter()
            .position(|c| *c == id)
    };
    while position(y_run).is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Y's run never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let y_started = position(y_run).unwrap();
    let x_third = position(x_runs[2]);
    assert!(
        x_third.is_none_or(|third| y_started < third),
        "Y started at {y_started}, X's third at {x_third:?}"
    );
    // Whether X's second run or Y's run is claimed first depends on how fast the worker
    // claims X's second before Y's run exists; either order is fair. Both are ≤ 2.
    assert!(
        y_started <= 2,
        "Y started at {y_started}, after more than two of X's"
    );
    world.services.shutdown(Duration::from_millis(100)).await;
}
