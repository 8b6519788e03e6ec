//! An execution runs what was asked when it was queued: its snapshot holds the task's name and
//! report settings, so editing or deleting the task before a worker claims the run changes
//! neither. The worker is started only after the edit (building the services starts nothing).
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use overseer_domain::{
    AgentOptions, ExecutionStatus, NewTask, ReportFormat, TaskName, TriggerType,
};
use overseer_ports::agent::MockAgentRunner;
use overseer_ports::{MockReportFiles, MockWorkspaces, Scope};
use overseer_services::{RequestContext, Services, ServicesConfig};
use overseer_testkit::{MemoryStore, fixtures};
use serde_json::json;
use support::{adapters, init_event, scripted_agent, turn_ended};

#[tokio::test]
async fn a_run_keeps_the_name_and_report_it_was_queued_with_even_if_its_task_is_deleted() {
    let repos = MemoryStore::new().repositories();
    let mut runner = MockAgentRunner::new();
    runner.expect_start().returning(|_, _| {
        Ok(scripted_agent(vec![
            init_event(),
            turn_ended("All healthy."),
        ]))
    });
    let mut workspaces = MockWorkspaces::new();
    workspaces
        .expect_create()
        .returning(|id| Ok(PathBuf::from(format!("/tmp/overseer-mock/{id}"))));
    let written: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let seen = written.clone();
    let mut files = MockReportFiles::new();
    files.expect_write().returning(move |id, _, bytes| {
        seen.lock().unwrap().push(bytes.to_vec());
        Ok(format!("reports/{id}/report.md"))
    });
    let services = Services::build(
        adapters(&repos, runner, workspaces, files),
        ServicesConfig::default(),
    );
    let owner = fixtures::user("ops@example.com");
    repos.users.insert(&owner).await.unwrap();
    let ctx = RequestContext::internal(owner.id);
    let task = services
        .tasks
        .create(
            &ctx,
            NewTask {
                name: TaskName::new("Nightly health check").unwrap(),
                description: None,
                template: fixtures::health_check_template(),
                options: AgentOptions::default(),
                generate_report: true,
                report_format: ReportFormat::Markdown,
                schedule: None,
            },
        )
        .await
        .unwrap();
    let variables = BTreeMap::from([("cluster_name".to_owned(), json!("production"))]);
    let queued = services
        .tasks
        .execute(&ctx, task.id, variables, TriggerType::Manual)
        .await
        .unwrap();
    services.tasks.delete(&ctx, task.id).await.unwrap();
    assert!(repos.tasks.get(task.id, Scope::Admin).await.is_err());

    let running = services.start();
    let run =
        overseer_testkit::waits::run_finished(&repos, queued.id, Duration::from_secs(10)).await;
    running.stop().await;
    assert_eq!(run.status(), ExecutionStatus::Completed, "{run:?}");
    assert!(run.report_id.is_some(), "the report it was queued with");
    let report = String::from_utf8(written.lock().unwrap().concat()).unwrap();
    assert!(report.contains("Nightly health check"), "{report}");
}
