//! The built-in tool servers through the whole service: `overseer serve` configured by its
//! TOML file, the real CLI calling `mcp__<server>__<tool>` as the fake Anthropic API scripts
//! it, the tools answering in-process, and the answers stored as tool calls, audited and
//! reported like any other tool's.

use std::path::Path;
use std::time::Duration;

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::fake_kubernetes::FakeKubernetes;
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::script::{Reply, Script};
use serde_json::{Value, json};

use crate::node::{Node, create_task, execute, finished, free_base_url, temp_dir, tool_calls};

/// Starts a node at `base` whose configuration file holds `tools` (a `[tools…]` TOML text).
async fn node_with_tools(
    base: String,
    data_dir: &Path,
    api: &FakeAnthropic,
    tools: &str,
) -> Option<Node> {
    let cli = overseer_testkit::cli::real_cli()?;
    let config = data_dir.join("overseer.toml");
    std::fs::create_dir_all(data_dir).unwrap();
    std::fs::write(&config, tools).unwrap();
    let config = config.display().to_string();
    Some(Node::start_at(base, data_dir, None, &cli, api, &["--config", &config], &[]).await)
}

/// The run's tool calls once each has ended.
async fn ended_calls(api: &Api, execution: &str) -> (String, Vec<Value>) {
    let done = finished(api, execution, Duration::from_secs(120)).await;
    assert_eq!(done["status"], json!("completed"), "{done}");
    let session = done["session_id"].as_str().unwrap().to_owned();
    let calls = tool_calls(api, &session).await["items"]
        .as_array()
        .unwrap()
        .clone();
    (session, calls)
}

fn output(call: &Value) -> &str {
    call["tool_output"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_health_check_reads_pods_from_the_cluster_into_the_report() {
    let api = FakeAnthropic::start().await;
    api.script(Script::new(
        "Kubernetes Cluster Health Check",
        vec![
            Reply::tool(
                "mcp__kubernetes_readonly__get_pods",
                json!({"namespace": "production"}),
            ),
            Reply::text("production: api and postgres are healthy; worker is crash-looping."),
        ],
    ));
    // Over TLS, trusted through the kubeconfig's certificate-authority-data.
    let cluster = FakeKubernetes::start_tls().await;
    let data_dir = temp_dir("builtin-kubernetes");
    let kubeconfig = cluster.write_kubeconfig(&data_dir.join("kube"));
    let tools = format!(
        "[tools.kubernetes]\nkubeconfig = {:?}\n",
        kubeconfig.display().to_string()
    );
    let Some(node) = node_with_tools(free_base_url(), &data_dir, &api, &tools).await else {
        return;
    };
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let task = create_task(
        &alice,
        json!({
            "name": "Kubernetes Cluster Health Check",
            "prompt_template": "Kubernetes Cluster Health Check: check the pods of the {namespace} namespace.",
            "variables": [{"name": "namespace", "type": "string"}],
            "sdk_options": {
                "allowed_tools": ["mcp__kubernetes_readonly__*"],
                "builtin_servers": {"kubernetes_readonly": {}},
                "max_turns": 4
            },
            "generate_report": true,
            "report_format": "markdown"
        }),
    )
    .await;
    let execution = execute(&alice, &task, json!({"namespace": "production"})).await;
    let (_, calls) = ended_calls(&alice, &execution).await;

    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(
        call["tool_name"], "mcp__kubernetes_readonly__get_pods",
        "{call}"
    );
    assert_eq!(call["status"], "completed", "{call}");
    let pods = output(call);
    for expected in [
        "3 pods in production",
        "api-7d9f8b6c5-x2x9k",
        "CrashLoopBackOff",
        "postgres-0",
    ] {
        assert!(
            pods.contains(expected),
            "{expected} missing from the stored output: {pods}"
        );
    }
    assert!(
        cluster
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == "/api/v1/namespaces/production/pods"),
        "{:?}",
        cluster.requests()
    );
    assert!(
        cluster.requests().iter().all(|r| r.method == "GET"),
        "{:?}",
        cluster.requests()
    );

    // The same policy and audit as every tool: the permission decision is recorded.
    let (_, granted) = alice
        .json(
            Method::GET,
            "/api/v1/audit-logs?action=tool.permission_granted",
            None,
        )
        .await;
    assert!(
        granted["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|entry| entry
                .to_string()
                .contains("mcp__kubernetes_readonly__get_pods")),
        "{granted}"
    );

    // The report shows the pods.
    let done = finished(&alice, &execution, Duration::from_secs(5)).await;
    let report = done["report_id"].as_str().expect("a report");
    let download = alice
        .call(
            Method::GET,
            &format!("/api/v1/reports/{report}/download"),
            None,
        )
        .await;
    assert_eq!(download.status().as_u16(), 200);
    let text = download.text().await.unwrap();
    assert!(
        text.contains("mcp__kubernetes_readonly__get_pods"),
        "{text}"
    );
    assert!(
        text.contains("worker-5c8b7d9f4-q7lzp") && text.contains("CrashLoopBackOff"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_and_database_answer_and_refuse_as_tool_errors() {
    let api = FakeAnthropic::start().await;
    let query = |sql: &str| {
        Reply::tool(
            "mcp__database__query_database",
            json!({"connection": "ci", "sql": sql}),
        )
    };
    api.script(Script::new(
        "ops-tools-check",
        vec![
            Reply::tool("mcp__monitoring__check_health", json!({"target": "self"})),
            Reply::tool(
                "mcp__monitoring__get_metrics",
                json!({"target": "self_metrics", "metric": "overseer_http_requests_total"}),
            ),
            Reply::tool(
                "mcp__monitoring__check_health",
                json!({"url": "http://example.com/health"}),
            ),
            query("SELECT 41 + 1 AS answer"),
            query("CREATE TABLE intruder (id int)"),
            query("SELECT pg_sleep(60)"),
            Reply::text("Checked."),
        ],
    ));
    let base = free_base_url();
    let postgres = overseer_store::testing::postgres_url();
    let tools = format!(
        "[tools.monitoring]\ntargets = {{ self = \"{base}/health\", self_metrics = \"{base}/metrics\" }}\n\
         [tools.database]\nstatement_timeout_seconds = 2\nconnections = {{ ci = {postgres:?} }}\n"
    );
    let data_dir = temp_dir("builtin-ops");
    let Some(node) = node_with_tools(base.clone(), &data_dir, &api, &tools).await else {
        return;
    };
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let task = create_task(
        &alice,
        json!({
            "name": "Ops tools",
            "prompt_template": "ops-tools-check",
            "sdk_options": {
                "allowed_tools": ["mcp__monitoring__*", "mcp__database__*"],
                "builtin_servers": {"monitoring": {}, "database": {}},
                "max_turns": 10
            }
        }),
    )
    .await;
    let execution = execute(&alice, &task, json!({})).await;
    let (_, calls) = ended_calls(&alice, &execution).await;
    assert_eq!(calls.len(), 6, "{calls:#?}");
    let outputs: Vec<&str> = calls.iter().map(output).collect();

    assert_eq!(calls[0]["status"], "completed", "{}", calls[0]);
    assert!(
        outputs[0].contains(&format!("GET {base}/health → 200 OK"))
            && outputs[0].contains("healthy: yes"),
        "{}",
        outputs[0]
    );
    assert_eq!(calls[1]["status"], "completed", "{}", calls[1]);
    assert!(
        outputs[1].contains("matching series")
            && outputs[1].contains("overseer_http_requests_total{"),
        "{}",
        outputs[1]
    );
    assert_eq!(
        calls[2]["status"], "failed",
        "a URL outside the list is refused: {}",
        calls[2]
    );
    assert!(outputs[2].contains("is not allowed"), "{}", outputs[2]);

    assert_eq!(calls[3]["status"], "completed", "{}", calls[3]);
    assert!(outputs[3].contains("answer\n42\n(1 row)"), "{}", outputs[3]);
    assert_eq!(calls[4]["status"], "failed", "{}", calls[4]);
    assert!(outputs[4].contains("read-only"), "{}", outputs[4]);
    assert_eq!(calls[5]["status"], "failed", "{}", calls[5]);
    assert!(outputs[5].contains("statement timeout"), "{}", outputs[5]);
    let took = calls[5]["duration_ms"].as_u64().unwrap_or_default();
    assert!(
        took < 10_000,
        "the sleep was stopped at the timeout, not after 60 s: {took} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_servers_and_settings_are_422_and_nothing_is_saved() {
    let api = FakeAnthropic::start().await;
    let data_dir = temp_dir("builtin-422");
    let Some(node) = node_with_tools(free_base_url(), &data_dir, &api, "").await else {
        return;
    };
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    for (options, field) in [
        (
            json!({"builtin_servers": {"kubernetes": {}}}),
            "sdk_options.builtin_servers",
        ),
        (
            json!({"builtin_servers": {"kubernetes_readonly": {"kubeconfig": "/root/.kube/config"}}}),
            "sdk_options.builtin_servers.kubernetes_readonly",
        ),
        (
            json!({"builtin_servers": {"database": {"url": "postgres://x"}}}),
            "sdk_options.builtin_servers.database",
        ),
    ] {
        let (status, problem) = alice
            .json(
                Method::POST,
                "/api/v1/tasks",
                Some(json!({"name": "t", "prompt_template": "p", "sdk_options": options})),
            )
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        let (status, problem) = alice
            .json(
                Method::POST,
                "/api/v1/sessions",
                Some(json!({"name": "s", "sdk_options": options})),
            )
            .await;
        assert_eq!(status, 422, "{problem}");
    }
    let (_, tasks) = alice.json(Method::GET, "/api/v1/tasks", None).await;
    assert_eq!(tasks["total"], 0, "{tasks}");
}
