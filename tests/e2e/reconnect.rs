//! A WebSocket dropped mid-run and reopened with `?after=<last>` loses no event and repeats none.

use overseer_e2e::{Db, spawn_with_agent};
use overseer_testkit::script::{Reply, Script};
use reqwest::Method;
use serde_json::json;

use crate::ws::{next_event, next_message, open};
use overseer_testkit::http_api::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_with_after_loses_nothing_and_repeats_nothing() {
    let Some(app) = spawn_with_agent(Db::Sqlite).await else {
        return;
    };
    let mut script = Script::new(
        "reconnect-run",
        vec![
            Reply::bash("echo one"),
            Reply::bash("echo two"),
            Reply::bash("echo three"),
            Reply::text("Done."),
        ],
    );
    script.event_delay_ms = 40;
    app.api.as_ref().unwrap().script(script);
    let alice = Api::sign_up(&app.url(""), "alice@example.com").await;
    let token = alice.token.clone().unwrap();
    let (status, session) = alice
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": "reconnect", "sdk_options": {"allowed_tools": ["Bash(echo:*)"]}})),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["id"].as_str().unwrap().to_owned();
    let mut socket = open(app.address, &id, &token, 0).await;
    let (status, _) = alice
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{id}/messages"),
            Some(json!({"content": "reconnect-run: go"})),
        )
        .await;
    assert_eq!(status, 202);

    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(next_message(&mut socket).await);
    }
    drop(socket); // the connection dies mid-run
    let last = seen.last().unwrap().0;
    // Let the run go on while nobody listens, so the reconnect has a gap to fill.
    let missed_path = format!("/api/v1/sessions/{id}/messages?after={last}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while alice.json(Method::GET, &missed_path, None).await.1["items"]
        .as_array()
        .unwrap()
        .len()
        < 2
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run did not go on"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut socket = open(app.address, &id, &token, last).await;
    loop {
        let message = next_message(&mut socket).await;
        let done = message.1 == "result";
        seen.push(message);
        if done {
            break;
        }
    }
    let numbers: Vec<u64> = seen.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        numbers,
        (1..=numbers.len() as u64).collect::<Vec<_>>(),
        "no gap, no duplicate: {seen:?}"
    );
    let (_, stored) = alice
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{id}/messages?limit=1000"),
            None,
        )
        .await;
    assert_eq!(
        stored["items"].as_array().unwrap().len(),
        numbers.len(),
        "every stored message was delivered once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sent_events_resume_from_last_event_id() {
    let Some(app) = spawn_with_agent(Db::Sqlite).await else {
        return;
    };
    app.api.as_ref().unwrap().script(Script::new(
        "sse-run",
        vec![Reply::bash("echo sse"), Reply::text("Done.")],
    ));
    let alice = Api::sign_up(&app.url(""), "alice@example.com").await;
    let token = alice.token.clone().unwrap();
    let (_, session) = alice
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": "sse", "sdk_options": {"allowed_tools": ["Bash(echo:*)"]}})),
        )
        .await;
    let id = session["id"].as_str().unwrap().to_owned();
    alice
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{id}/messages"),
            Some(json!({"content": "sse-run: go"})),
        )
        .await;

    let mut response = alice
        .client
        .get(app.url(&format!("/api/v1/sessions/{id}/stream")))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("last-event-id", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    let mut ids = Vec::new();
    while !text.contains("\"message_type\":\"result\"") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(60), response.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    for block in text.split("\n\n") {
        let is_message = block.lines().any(|l| l == "event: message");
        if let (true, Some(id_line)) = (
            is_message,
            block.lines().find_map(|l| l.strip_prefix("id: ")),
        ) {
            ids.push(id_line.parse::<u64>().unwrap());
        }
    }
    assert_eq!(
        ids.first(),
        Some(&3),
        "resumes after Last-Event-ID: {ids:?}"
    );
    assert_eq!(
        ids,
        (3..3 + ids.len() as u64).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_token_opens_only_its_own_session() {
    let Some(app) = spawn_with_agent(Db::Sqlite).await else {
        return;
    };
    app.api
        .as_ref()
        .unwrap()
        .script(Script::new("token-run", vec![Reply::text("Hello.")]));
    let alice = Api::sign_up(&app.url(""), "alice@example.com").await;
    let (_, first) = alice
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": "one"})),
        )
        .await;
    let (_, second) = alice
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": "two"})),
        )
        .await;
    let (first, second) = (
        first["id"].as_str().unwrap().to_owned(),
        second["id"].as_str().unwrap().to_owned(),
    );
    alice
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{first}/messages"),
            Some(json!({"content": "token-run: hi"})),
        )
        .await;
    let (status, token) = alice
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{first}/stream-token"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let token = token["token"].as_str().unwrap().to_owned();

    // No Authorization header: the token in the query opens this session's stream …
    let url = format!(
        "ws://{}/api/v1/sessions/{first}/stream?token={token}",
        app.address
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let (sequence, _) = next_message(&mut socket).await;
    assert_eq!(sequence, 1);
    // … and no other.
    let other = format!(
        "ws://{}/api/v1/sessions/{second}/stream?token={token}",
        app.address
    );
    assert!(
        tokio_tungstenite::connect_async(other).await.is_err(),
        "a stream token is for one session"
    );
    // It is not an access token either.
    let mut misuse = Api::new(app.url(""));
    misuse.token = Some(token);
    assert_eq!(misuse.json(Method::GET, "/api/v1/tasks", None).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_appears_live_and_is_answered_over_http() {
    let Some(app) = spawn_with_agent(Db::Sqlite).await else {
        return;
    };
    app.api.as_ref().unwrap().script(Script::new(
        "approve-run",
        vec![
            Reply::bash("echo approved > approved.txt"),
            Reply::text("Done."),
        ],
    ));
    let alice = Api::sign_up(&app.url(""), "alice@example.com").await;
    let token = alice.token.clone().unwrap();
    let (_, session) = alice
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": "approvals", "sdk_options": {"ask_tools": ["Bash"]}})),
        )
        .await;
    let id = session["id"].as_str().unwrap().to_owned();
    let mut socket = open(app.address, &id, &token, 0).await;
    alice
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{id}/messages"),
            Some(json!({"content": "approve-run: write it"})),
        )
        .await;

    let approval = loop {
        let event = next_event(&mut socket).await;
        if event["kind"] == "approval" {
            break event["payload"].clone();
        }
    };
    assert_eq!(approval["tool_name"], json!("Bash"));
    let approval_id = approval["approval_id"].as_str().unwrap();
    let path = format!("/api/v1/sessions/{id}/approvals/{approval_id}");

    // Listed where its owner looks: the inbox across sessions and the session's own list.
    let (status, inbox) = alice
        .json(Method::GET, "/api/v1/approvals?status=pending", None)
        .await;
    assert_eq!(status, 200, "{inbox}");
    assert_eq!(inbox["total"], json!(1), "{inbox}");
    let listed = &inbox["items"][0];
    assert_eq!(listed["id"], json!(approval_id));
    assert_eq!(listed["tool_name"], json!("Bash"));
    assert_eq!(listed["session_id"], json!(id));
    assert!(listed["expires_at"].is_string(), "{listed}");
    assert_eq!(listed["_links"]["answer"]["href"], json!(path));
    let (_, of_session) = alice
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{id}/approvals"),
            None,
        )
        .await;
    assert_eq!(
        of_session["items"][0]["id"],
        json!(approval_id),
        "{of_session}"
    );

    let bob = Api::sign_up(&app.url(""), "bob@example.com").await;
    let (_, bobs) = bob
        .json(Method::GET, "/api/v1/approvals?status=pending", None)
        .await;
    assert_eq!(
        bobs["total"],
        json!(0),
        "someone else's approvals stay hidden: {bobs}"
    );
    assert_eq!(
        bob.json(Method::GET, "/api/v1/approvals?all=true", None)
            .await
            .0,
        403,
        "everyone's is for admins"
    );
    assert_eq!(
        bob.json(Method::POST, &path, Some(json!({"decision": "allow"})))
            .await
            .0,
        404,
        "only the owner answers"
    );
    let (status, answer) = alice
        .json(Method::POST, &path, Some(json!({"decision": "allow"})))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], json!("allowed"));
    assert_eq!(
        alice
            .json(Method::POST, &path, Some(json!({"decision": "deny"})))
            .await
            .0,
        409,
        "answered once"
    );
    let (_, inbox) = alice
        .json(Method::GET, "/api/v1/approvals?status=pending", None)
        .await;
    assert_eq!(
        inbox["total"],
        json!(0),
        "answered: no longer pending: {inbox}"
    );
    let (status, wrong) = alice
        .json(Method::GET, "/api/v1/approvals?status=maybe", None)
        .await;
    assert_eq!(status, 422, "{wrong}");

    while next_message(&mut socket).await.1 != "result" {}
    let (_, calls) = alice
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{id}/tool-calls"),
            None,
        )
        .await;
    assert_eq!(calls["items"][0]["status"], json!("completed"), "{calls}");
    assert_eq!(calls["items"][0]["permission_decision"], json!("allowed"));

    // And a task run: then every histogram of /metrics has seen something.
    let (_, task) = alice
        .json(
            Method::POST,
            "/api/v1/tasks",
            Some(
                json!({"name": "metered", "prompt_template": "approve-run: again",
                        "sdk_options": {"allowed_tools": ["Bash"]}}),
            ),
        )
        .await;
    let response = alice
        .client
        .post(app.url(&format!(
            "/api/v1/tasks/{}/execute",
            task["id"].as_str().unwrap()
        )))
        .bearer_auth(&token)
        .header("prefer", "wait=60")
        .json(&json!({"variables": {}}))
        .send()
        .await
        .unwrap();
    let run: serde_json::Value = response.json().await.unwrap();
    assert_eq!(run["status"], json!("completed"), "{run}");
    let metrics = alice
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for histogram in [
        "overseer_execution_duration_seconds",
        "overseer_queue_wait_seconds",
        "overseer_agent_start_seconds",
        "overseer_turn_duration_seconds",
        "overseer_tool_call_duration_seconds",
        "overseer_permission_wait_seconds",
        "overseer_approval_wait_seconds",
        "overseer_http_request_duration_seconds",
    ] {
        let seen: u64 = metrics
            .lines()
            .filter(|line| line.starts_with(&format!("{histogram}_count")))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        assert!(seen > 0, "{histogram} saw nothing:\n{metrics}");
    }
    for needle in [
        "overseer_approvals_total{result=\"approved\"} 1",
        "overseer_tool_calls_total{tool=\"Bash\",status=\"completed\"} 2",
        "overseer_tokens_total{",
        "overseer_sessions{status=\"active\"}",
        "overseer_agents{state=\"idle\"}",
    ] {
        assert!(
            metrics.contains(needle),
            "metrics lack {needle}:\n{metrics}"
        );
    }
}
