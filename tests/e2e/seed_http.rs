//! The seed scenario over HTTP with the real CLI and the fake Anthropic API.

use overseer_e2e::{Db, spawn_with_agent};
use overseer_testkit::script::{Reply, Script, content_text};
use reqwest::Method;
use serde_json::{Value, json};

use overseer_testkit::http_api::Api;

fn seed_task() -> Value {
    json!({
        "name": "Kubernetes Cluster Health Check",
        "description": "Checks the pods of a cluster",
        "prompt_template": "Check the health of the {cluster_name} cluster.",
        "variables": [{"name": "cluster_name", "type": "string", "description": "which cluster"}],
        "sdk_options": {"allowed_tools": ["Bash(echo:*)"], "max_turns": 5},
        "generate_report": true,
        "report_format": "markdown"
    })
}

/// A fresh user asking for `session`'s transcript.
async fn bob_probe(base: &str, session: &str) -> (u16, Value) {
    let carol = Api::sign_up(base, "carol@example.com").await;
    carol
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{session}/transcript"),
            None,
        )
        .await
}

async fn seed_over_http(db: Db) {
    let Some(app) = spawn_with_agent(db).await else {
        return;
    };
    let api_fake = app.api.as_ref().unwrap();
    api_fake.script(Script::new(
        "production cluster",
        vec![
            Reply::bash("echo 'api-0 1/1 Running'; echo 'web-0 1/1 Running'"),
            Reply::text("All pods in production are healthy."),
        ],
    ));
    let base = app.url("");
    let alice = Api::sign_up(&base, "alice@example.com").await;

    let (status, task) = alice
        .json(Method::POST, "/api/v1/tasks", Some(seed_task()))
        .await;
    assert_eq!(status, 201, "{task}");
    let task_id = task["id"].as_str().unwrap().to_owned();

    let response = alice
        .call(
            Method::POST,
            &format!("/api/v1/tasks/{task_id}/execute"),
            Some(json!({"variables": {"cluster_name": "production"}})),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let queued: Value = response.json().await.unwrap();
    let execution_id = queued["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/task-executions/{execution_id}"));
    assert_eq!(queued["_links"]["self"]["href"], json!(location));
    assert_eq!(
        queued["_links"]["task"]["href"],
        json!(format!("/api/v1/tasks/{task_id}"))
    );
    assert!(["pending", "running"].contains(&queued["status"].as_str().unwrap()));

    // Wait (briefly) for the session to exist, then follow it live.
    let (_, running) = alice.json(Method::GET, &location, None).await;
    let mut session_id = running["session_id"].as_str().map(str::to_owned);
    for _ in 0..100 {
        if session_id.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        session_id = alice.json(Method::GET, &location, None).await.1["session_id"]
            .as_str()
            .map(str::to_owned);
    }
    let session_id = session_id.expect("the run creates a session");
    let mut socket =
        crate::ws::open(app.address, &session_id, alice.token.as_deref().unwrap(), 0).await;
    let seen = crate::ws::until_result(&mut socket).await;
    assert_eq!(
        seen,
        (1..=seen.len() as u64).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );

    // The run's final fields.
    let response = alice
        .client
        .get(app.url(&location))
        .bearer_auth(alice.token.as_deref().unwrap())
        .header("prefer", "wait=60")
        .send()
        .await
        .unwrap();
    let done: Value = response.json().await.unwrap();
    assert_eq!(done["status"], json!("completed"), "{done}");
    for field in [
        "started_at",
        "completed_at",
        "duration_seconds",
        "result_message_id",
        "report_id",
    ] {
        assert!(!done[field].is_null(), "{field} missing: {done}");
    }
    assert_eq!(
        done["_links"]["session"]["href"],
        json!(format!("/api/v1/sessions/{session_id}"))
    );
    let report_id = done["report_id"].as_str().unwrap().to_owned();

    // The prompt the agent received.
    let calls = api_fake.requests_for("production cluster");
    let first_user = &calls[0]["messages"][0]["content"];
    assert!(content_text(first_user).contains("Check the health of the production cluster."));

    // Messages and tool calls.
    let (_, messages) = alice
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{session_id}/messages"),
            None,
        )
        .await;
    let types: Vec<&str> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_type"].as_str().unwrap())
        .filter(|t| *t != "system")
        .collect();
    assert_eq!(
        types,
        ["user", "assistant", "tool_result", "assistant", "result"]
    );
    // Typed blocks on every message, the frame only on request.
    let items = messages["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .all(|m| m["blocks"].is_array() && m.get("raw").is_none()),
        "{messages}"
    );
    let blocks: Vec<&Value> = items
        .iter()
        .flat_map(|m| m["blocks"].as_array().unwrap())
        .collect();
    let output = "api-0 1/1 Running\nweb-0 1/1 Running";
    let tool_use = blocks
        .iter()
        .find(|b| b["type"] == "tool_use")
        .expect("a tool_use block");
    assert_eq!(tool_use["name"], json!("Bash"), "{tool_use}");
    assert!(tool_use["input"]["command"].is_string(), "{tool_use}");
    let tool_result = blocks
        .iter()
        .find(|b| b["type"] == "tool_result")
        .expect("a tool_result block");
    assert_eq!(tool_result["tool_use_id"], tool_use["id"]);
    assert_eq!(
        tool_result["content"],
        json!(output),
        "the text the model read"
    );
    assert_eq!(tool_result["is_error"], json!(false));
    assert_eq!(items[0]["blocks"][0]["type"], json!("text"));
    assert!(
        items[0]["blocks"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Check the health of the production cluster.")
    );
    let answer = items
        .iter()
        .rev()
        .find(|m| m["message_type"] == "assistant")
        .unwrap();
    assert_eq!(
        answer["blocks"],
        json!([{"type": "text", "text": "All pods in production are healthy."}])
    );
    assert!(answer["model"].is_string(), "{answer}");
    let result = items.last().unwrap();
    assert!(result["usage"]["output_tokens"].is_u64(), "{result}");
    let (_, with_raw) = alice
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{session_id}/messages?include=raw"),
            None,
        )
        .await;
    let raw_items = with_raw["items"].as_array().unwrap();
    assert_eq!(raw_items.len(), items.len());
    assert!(raw_items.iter().all(|m| m["raw"].is_object()), "{with_raw}");
    assert_eq!(raw_items.last().unwrap()["raw"]["type"], json!("result"));
    let (status, wrong) = alice
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{session_id}/messages?include=frames"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{wrong}");
    let (_, calls) = alice
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{session_id}/tool-calls"),
            None,
        )
        .await;
    assert_eq!(calls["total"], json!(1));
    assert_eq!(calls["items"][0]["tool_name"], json!("Bash"));
    assert_eq!(calls["items"][0]["status"], json!("completed"));
    assert_eq!(calls["items"][0]["permission_decision"], json!("allowed"));
    // The output the model read, and the CLI's own account of it beside.
    assert_eq!(calls["items"][0]["tool_output"], json!(output), "{calls}");
    assert_eq!(
        calls["items"][0]["tool_response"]["stdout"],
        json!(output),
        "{calls}"
    );

    // Audit entries of the run.
    let (_, audit) = alice
        .json(
            Method::GET,
            &format!("/api/v1/audit-logs?resource_id={execution_id}"),
            None,
        )
        .await;
    assert_eq!(
        audit["items"][0]["action_type"],
        json!("task.executed"),
        "{audit}"
    );
    let (_, granted) = alice
        .json(
            Method::GET,
            "/api/v1/audit-logs?action=tool.permission_granted",
            None,
        )
        .await;
    assert!(granted["total"].as_u64().unwrap() >= 1);

    // The report and its download.
    let (status, report) = alice
        .json(Method::GET, &format!("/api/v1/reports/{report_id}"), None)
        .await;
    assert_eq!(status, 200, "{report}");
    let download = alice
        .call(
            Method::GET,
            &format!("/api/v1/reports/{report_id}/download"),
            None,
        )
        .await;
    assert_eq!(download.status().as_u16(), 200);
    let text = download.text().await.unwrap();
    assert!(
        text.contains("Kubernetes Cluster Health Check") && text.contains("api-0 1/1 Running"),
        "{text}"
    );

    // Another user sees none of it: 404, exactly as if it did not exist.
    let bob = Api::sign_up(&base, "bob@example.com").await;
    for path in [
        format!("/api/v1/tasks/{task_id}"),
        format!("/api/v1/tasks/{task_id}/executions"),
        format!("/api/v1/task-executions/{execution_id}"),
        format!("/api/v1/sessions/{session_id}"),
        format!("/api/v1/sessions/{session_id}/messages"),
        format!("/api/v1/sessions/{session_id}/tool-calls"),
        format!("/api/v1/reports/{report_id}"),
        format!("/api/v1/reports/{report_id}/download"),
    ] {
        let (status, body) = bob.json(Method::GET, &path, None).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["type"], json!("/problems/not-found"), "{path}");
    }
    let (status, _) = bob
        .json(
            Method::POST,
            &format!("/api/v1/tasks/{task_id}/execute"),
            Some(json!({"variables": {"cluster_name": "x"}})),
        )
        .await;
    assert_eq!(status, 404);
    let (_, bobs_audit) = bob
        .json(
            Method::GET,
            &format!("/api/v1/audit-logs?resource_id={execution_id}"),
            None,
        )
        .await;
    assert_eq!(
        bobs_audit["total"],
        json!(0),
        "another user's audit entries stay hidden"
    );

    // The CLI's own transcript holds the conversation.
    let transcript = alice
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{session_id}/transcript"),
            None,
        )
        .await;
    assert_eq!(transcript.status().as_u16(), 200);
    let lines = transcript.text().await.unwrap();
    assert!(
        lines.contains("Check the health of the production cluster."),
        "{lines}"
    );
    let (status, _) = bob_probe(&base, &session_id).await;
    assert_eq!(status, 404, "another user cannot read the transcript");

    // The run shows in the metrics.
    let metrics = alice
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "overseer_executions_total{status=\"completed\"} 1",
        "overseer_tool_call_duration_seconds_count{tool=\"Bash\",status=\"completed\"} 1",
        "overseer_permission_wait_seconds_count{decision=\"allowed\"}",
        "route=\"/api/v1/tasks/{id}/execute\",method=\"POST\",status=\"202\"",
        "overseer_live_agents",
        "overseer_queue_depth 0",
    ] {
        assert!(
            metrics.contains(needle),
            "metrics lack {needle}:\n{metrics}"
        );
    }

    // A reconnect after the last event replays nothing more.
    let last = *seen.last().unwrap();
    let (_, all) = alice
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{session_id}/messages?after={last}"),
            None,
        )
        .await;
    assert!(all["items"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenario_over_http_on_sqlite() {
    seed_over_http(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenario_over_http_on_postgres() {
    seed_over_http(Db::Postgres).await;
}
