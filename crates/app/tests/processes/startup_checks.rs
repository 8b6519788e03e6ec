//! Start-up checks: a node with no Claude Code CLI anywhere still serves, says so on `/health`
//! (503, `degraded`, `agent_runtime: unavailable`), logs how to fix it, and refuses runs and
//! messages with a 503 problem before storing anything; with the CLI it is `ok`.

use std::path::Path;

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::{Api, Method};
use serde_json::{Value, json};

use crate::node::{Node, create_task, temp_dir};

async fn health(base: &str) -> (u16, Value) {
    let response = overseer_testkit::http_api::client()
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cli_the_node_is_degraded_and_refuses_runs_storing_nothing() {
    let api = FakeAnthropic::start().await;
    let data_dir = temp_dir("no-cli");
    // Nothing configured, nothing on PATH, no node_modules under the node's directory.
    let node = Node::start_with_env(
        &data_dir,
        None,
        Path::new(""),
        &api,
        &[],
        &[("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")],
    )
    .await;
    let (status, body) = health(&node.base).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body,
        json!({"status": "degraded", "components": {"database": "ok", "agent_runtime": "unavailable"}})
    );
    let log = node.log();
    assert!(
        log.contains("npm ci") && log.contains("--claude-binary"),
        "the log says how to fix it: {log}"
    );

    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let task = create_task(
        &alice,
        json!({"name": "Health check", "prompt_template": "Check the cluster."}),
    )
    .await;
    let response = alice
        .call(
            Method::POST,
            &format!("/api/v1/tasks/{task}/execute"),
            Some(json!({"variables": {}})),
        )
        .await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["type"], "/problems/agent-runtime-unavailable",
        "{problem}"
    );
    let (_, executions) = alice
        .json(
            Method::GET,
            &format!("/api/v1/tasks/{task}/executions"),
            None,
        )
        .await;
    assert_eq!(executions["total"], 0, "nothing stored: {executions}");

    let (status, session) = alice
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": "chat"})),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["id"].as_str().unwrap();
    let (status, problem) = alice
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{id}/messages"),
            Some(json!({"content": "hello"})),
        )
        .await;
    assert_eq!(status, 503, "{problem}");
    assert_eq!(problem["type"], "/problems/agent-runtime-unavailable");
    let (_, messages) = alice
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{id}/messages"),
            None,
        )
        .await;
    assert_eq!(messages["items"], json!([]), "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cli_the_node_is_ok_and_logs_its_version() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    let data_dir = temp_dir("with-cli");
    let node =
        Node::start_with_env(&data_dir, None, &cli, &api, &[], &[("RUST_LOG", "info")]).await;
    let (status, body) = health(&node.base).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"status": "ok", "components": {"database": "ok", "agent_runtime": "ok"}})
    );
    let log = node.log();
    assert!(
        log.contains("Claude Code CLI found") && log.contains("(Claude Code)"),
        "{log}"
    );
}
