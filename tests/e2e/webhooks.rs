//! Webhooks over HTTP with the real CLI: a signed request runs the task; a bad signature, a
//! stale timestamp, a replay, or a rotated-out secret get 401.

use overseer_e2e::{Db, spawn_with_agent};
use overseer_services::hmac_sha256_hex;
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::script::{Reply, Script};
use serde_json::{Value, json};

/// The wire format, spelled out: `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let message = format!("{timestamp}.{body}");
    format!(
        "sha256={}",
        hmac_sha256_hex(secret.as_bytes(), message.as_bytes())
    )
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Posts `body` to the hook with the given headers; returns (status, JSON body).
async fn deliver(
    api: &Api,
    path: &str,
    timestamp: i64,
    signature: &str,
    body: &str,
) -> (u16, Value) {
    let response = api
        .client
        .post(format!("{}{path}", api.base))
        .header("content-type", "application/json")
        .header("x-overseer-timestamp", timestamp.to_string())
        .header("x-overseer-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_request_runs_the_task_and_bad_or_replayed_ones_are_refused() {
    let Some(app) = spawn_with_agent(Db::Sqlite).await else {
        return;
    };
    app.api.as_ref().unwrap().script(Script::new(
        "webhook cluster",
        vec![Reply::text("Deployed and healthy.")],
    ));
    let base = app.url("");
    let alice = Api::sign_up(&base, "alice@example.com").await;
    let (status, task) = alice
        .json(
            Method::POST,
            "/api/v1/tasks",
            Some(json!({
                "name": "Post-deploy check",
                "prompt_template": "Check the webhook cluster {cluster_name}.",
                "variables": [{"name": "cluster_name", "type": "string"}],
            })),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    let task_id = task["id"].as_str().unwrap();
    let (status, issued) = alice
        .json(
            Method::POST,
            &format!("/api/v1/tasks/{task_id}/webhook-secret"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let secret = issued["secret"].as_str().unwrap().to_owned();
    let hook = issued["url"].as_str().unwrap().to_owned();
    assert_eq!(hook, format!("/api/v1/hooks/tasks/{task_id}"));
    let anonymous = Api::new(base.clone());
    let body = r#"{"cluster_name": "production"}"#;

    // A good signature runs the task, as a webhook run.
    let at = now();
    let good = signature(&secret, at, body);
    let (status, queued) = deliver(&anonymous, &hook, at, &good, body).await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["trigger_type"], json!("webhook"), "{queued}");
    let response = alice
        .client
        .get(app.url(&format!(
            "/api/v1/task-executions/{}",
            queued["id"].as_str().unwrap()
        )))
        .bearer_auth(alice.token.as_deref().unwrap())
        .header("prefer", "wait=60")
        .send()
        .await
        .unwrap();
    let done: Value = response.json().await.unwrap();
    assert_eq!(done["status"], json!("completed"), "{done}");

    // The same request again is a replay.
    let (status, problem) = deliver(&anonymous, &hook, at, &good, body).await;
    assert_eq!(status, 401, "{problem}");

    // A bad signature, a signature over another body, a stale timestamp.
    let at = now();
    let (status, _) = deliver(&anonymous, &hook, at, "sha256=00ff", body).await;
    assert_eq!(status, 401);
    let other = signature(&secret, at, r#"{"cluster_name": "staging"}"#);
    assert_eq!(deliver(&anonymous, &hook, at, &other, body).await.0, 401);
    let stale = now() - 3600;
    let old = signature(&secret, stale, body);
    assert_eq!(deliver(&anonymous, &hook, stale, &old, body).await.0, 401);
    let unknown = format!("/api/v1/hooks/tasks/{}", uuid::Uuid::new_v4());
    let any = signature(&secret, at, body);
    assert_eq!(deliver(&anonymous, &unknown, at, &any, body).await.0, 401);

    // Rotating the secret retires the old one.
    let (status, rotated) = alice
        .json(
            Method::POST,
            &format!("/api/v1/tasks/{task_id}/webhook-secret"),
            None,
        )
        .await;
    assert_eq!(status, 201);
    let at = now();
    let retired = signature(&secret, at, body);
    assert_eq!(deliver(&anonymous, &hook, at, &retired, body).await.0, 401);
    let fresh = signature(rotated["secret"].as_str().unwrap(), at, body);
    assert_eq!(deliver(&anonymous, &hook, at, &fresh, body).await.0, 202);
}
