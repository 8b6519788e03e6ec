//! Budgets that ask, over HTTP with the real CLI: a run that reaches its owner's soft threshold
//! pauses on a budget approval (heard by a notification target as `budget.threshold` and
//! `approval.requested`); approved, it finishes; denied, it fails with the reason. A task's
//! monthly budget is a hard cap: the run stops at it, and the next run is refused naming it.

use std::time::Duration;

use overseer_e2e::{Db, spawn_with_agent};
use overseer_services::hmac_sha256_hex;
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::receiver::receiver;
use overseer_testkit::script::{Reply, Script};
use serde_json::{Value, json};

/// Every scripted model call costs ≈ $0.0002 on the CLI's pricing: a threshold of $0.0003 is
/// reached within two calls.
const THRESHOLD_USD: f64 = 0.0003;
const WAIT: Duration = Duration::from_secs(60);

fn script(marker: &str) -> Script {
    let mut replies = vec![Reply::bash("echo one"), Reply::bash("echo two")];
    // However many calls the stop and the resume take, the conversation ends in text.
    replies.extend((0..6).map(|_| Reply::text("All done.")));
    Script::new(marker, replies)
}

async fn create_task(api: &Api, name: &str, options: Value) -> String {
    let (status, task) = api
        .json(
            Method::POST,
            "/api/v1/tasks",
            Some(
                json!({"name": name, "prompt_template": format!("{name}: run two commands."),
                        "sdk_options": options}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    task["id"].as_str().unwrap().to_owned()
}

async fn execute(api: &Api, task: &str) -> (u16, Value) {
    api.json(
        Method::POST,
        &format!("/api/v1/tasks/{task}/execute"),
        Some(json!({"variables": {}})),
    )
    .await
}

/// The run's budget approval, once it waits on one.
async fn budget_approval(api: &Api) -> Value {
    let pending = api
        .poll("/api/v1/approvals?status=pending", WAIT, |list| {
            list["items"][0]["kind"] == "budget"
        })
        .await;
    pending["items"][0].clone()
}

async fn answer(api: &Api, approval: &Value, decision: &str) {
    let (status, body) = api
        .json(
            Method::POST,
            approval["_links"]["answer"]["href"].as_str().unwrap(),
            Some(json!({"decision": decision})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn finished(api: &Api, run: &Value) -> Value {
    let path = format!("/api/v1/task-executions/{}", run["id"].as_str().unwrap());
    api.poll(&path, WAIT, |run| {
        matches!(
            run["status"].as_str(),
            Some("completed" | "failed" | "cancelled")
        )
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_at_the_soft_threshold_asks_and_a_hard_budget_still_stops() {
    let Some(app) = spawn_with_agent(Db::Sqlite).await else {
        return;
    };
    let fake = app.api.as_ref().unwrap();
    for marker in ["Allowed", "Denied", "Capped"] {
        fake.script(script(marker));
    }
    let base = app.url("");
    let admin = Api::sign_up(&base, "admin@example.com").await;
    let alice = Api::sign_up(&base, "alice@example.com").await;
    let (_, me) = alice.json(Method::GET, "/api/v1/auth/me", None).await;
    let quota = format!("/api/v1/users/{}/quota", me["id"].as_str().unwrap());
    let (status, body) = admin
        .json(Method::PUT, &quota, Some(json!({"ask_above_usd": 0})))
        .await;
    assert_eq!(
        (status, body["errors"][0]["field"].clone()),
        (422, json!("ask_above_usd")),
        "{body}"
    );
    let (status, body) = admin
        .json(
            Method::PUT,
            &quota,
            Some(json!({"ask_above_usd": THRESHOLD_USD})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let hook = receiver().await;
    let (status, target) = alice
        .json(
            Method::POST,
            "/api/v1/notification-targets",
            Some(json!({"url": hook.url, "events": ["budget.threshold", "approval.requested"]})),
        )
        .await;
    assert_eq!(status, 201, "{target}");
    let secret = target["secret"].as_str().unwrap().to_owned();

    // Allowed: the run goes on past the threshold and completes.
    let allowed = create_task(&alice, "Allowed", json!({"max_turns": 10})).await;
    let (status, run) = execute(&alice, &allowed).await;
    assert_eq!(status, 202, "{run}");
    let approval = budget_approval(&alice).await;
    assert_eq!(
        approval["tool_input"]["threshold_usd"],
        json!(THRESHOLD_USD)
    );
    let spent = approval["tool_input"]["spent_usd"].as_f64().unwrap();
    assert!(spent >= THRESHOLD_USD, "{approval}");
    let threshold = hook
        .event("budget.threshold", &secret, hmac_sha256_hex)
        .await;
    assert_eq!(threshold["data"]["action"], "asked", "{threshold}");
    assert_eq!(threshold["data"]["approval_id"], approval["id"]);
    let requested = hook
        .event("approval.requested", &secret, hmac_sha256_hex)
        .await;
    assert_eq!(requested["data"]["kind"], "budget", "{requested}");
    assert!(requested["_links"]["approve"].is_string(), "{requested}");
    answer(&alice, &approval, "allow").await;
    let done = finished(&alice, &run).await;
    assert_eq!(done["status"], "completed", "{done}");
    let session = format!("/api/v1/sessions/{}", done["session_id"].as_str().unwrap());
    let (_, session) = alice.json(Method::GET, &session, None).await;
    assert!(
        session["total_cost_usd"].as_f64().unwrap() > spent,
        "it went on past the threshold: {session}"
    );

    // Denied: the run stops with the reason.
    let denied = create_task(&alice, "Denied", json!({"max_turns": 10})).await;
    let (_, run) = execute(&alice, &denied).await;
    let approval = budget_approval(&alice).await;
    answer(&alice, &approval, "deny").await;
    let done = finished(&alice, &run).await;
    assert_eq!(done["status"], "failed", "{done}");
    let reason = done["error_message"].as_str().unwrap();
    assert!(
        reason.contains("budget threshold") && reason.contains("denied"),
        "{reason}"
    );

    // A task's monthly budget is hard: below the threshold, it stops the run without asking,
    // and then refuses the next one.
    let capped = create_task(
        &alice,
        "Capped",
        json!({"max_turns": 10, "monthly_budget_usd": THRESHOLD_USD / 2.0}),
    )
    .await;
    let (_, run) = execute(&alice, &capped).await;
    let done = finished(&alice, &run).await;
    assert_eq!(done["status"], "failed", "{done}");
    let reason = done["error_message"].as_str().unwrap();
    assert!(
        reason.contains("monthly_budget_usd budget is reached"),
        "{reason}"
    );
    let stopped = hook
        .event_where("budget.threshold", &secret, hmac_sha256_hex, |body| {
            body["data"]["action"] == "stopped"
        })
        .await;
    assert_eq!(
        (
            stopped["data"]["action"].clone(),
            stopped["data"]["limit"].clone()
        ),
        (json!("stopped"), json!("monthly_budget_usd")),
        "{stopped}"
    );
    let (status, refused) = execute(&alice, &capped).await;
    assert_eq!(status, 429, "{refused}");
    assert_eq!(refused["limit"], "monthly_budget_usd", "{refused}");
    let (_, pending) = alice
        .json(Method::GET, "/api/v1/approvals?status=pending", None)
        .await;
    assert_eq!(pending["total"], 0, "{pending}");
}
