//! Outbound notifications over HTTP: a user's target hears the approval a run waits on and
//! the run's end, signed; a receiver that is down first gets the same delivery later.

use std::time::Duration;

use overseer_e2e::{Db, spawn_with_agent};
use overseer_services::hmac_sha256_hex;
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::receiver::receiver;
use overseer_testkit::script::{Reply, Script};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_hears_the_approval_and_the_end_of_a_run_signed_and_after_an_outage() {
    let Some(app) = spawn_with_agent(Db::Sqlite).await else {
        return;
    };
    app.api.as_ref().unwrap().script(Script::new(
        "Deploy the web service",
        vec![
            Reply::bash("echo deployed web"),
            Reply::text("Deployed web."),
        ],
    ));
    let base = app.url("");
    let _admin = Api::sign_up(&base, "admin@example.com").await;
    let alice = Api::sign_up(&base, "alice@example.com").await;
    let bob = Api::sign_up(&base, "bob@example.com").await;
    let hook = receiver().await;
    hook.set_down(true);

    // Bad input names its field; a global target is an admin's.
    let (status, body) = alice
        .json(
            Method::POST,
            "/api/v1/notification-targets",
            Some(json!({"url": hook.url, "events": ["approval.maybe"]})),
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["field"].clone()),
        (422, json!("events")),
        "{body}"
    );
    let (status, body) = alice
        .json(
            Method::POST,
            "/api/v1/notification-targets",
            Some(json!({"url": hook.url, "events": ["execution.finished"], "global": true})),
        )
        .await;
    assert_eq!(status, 403, "{body}");

    let (status, target) = alice
        .json(
            Method::POST,
            "/api/v1/notification-targets",
            Some(json!({"url": hook.url, "events": ["approval.requested", "approval.decided", "execution.finished"]})),
        )
        .await;
    assert_eq!(status, 201, "{target}");
    let secret = target["secret"].as_str().unwrap().to_owned();
    let target_path = format!(
        "/api/v1/notification-targets/{}",
        target["id"].as_str().unwrap()
    );
    let (_, shown) = alice.json(Method::GET, &target_path, None).await;
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown once: {shown}"
    );
    let (status, _) = bob.json(Method::GET, &target_path, None).await;
    assert_eq!(status, 404, "not bob's");

    let (status, task) = alice
        .json(
            Method::POST,
            "/api/v1/tasks",
            Some(
                json!({"name": "Deploy", "prompt_template": "Deploy the {service} service.",
                        "variables": [{"name": "service", "type": "string"}],
                        "sdk_options": {"ask_tools": ["Bash"], "max_turns": 5}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    let (status, run) = alice
        .json(
            Method::POST,
            &format!("/api/v1/tasks/{}/execute", task["id"].as_str().unwrap()),
            Some(json!({"variables": {"service": "web"}})),
        )
        .await;
    assert_eq!(status, 202, "{run}");

    // The receiver is down: the delivery waits, with the reason, then arrives once it is up.
    let deliveries = format!("{target_path}/deliveries");
    let failed = alice
        .poll(&deliveries, Duration::from_secs(60), |list| {
            list["items"][0]["attempts"].as_u64() >= Some(1)
        })
        .await;
    assert_eq!(failed["items"][0]["status"], "pending", "{failed}");
    assert!(
        failed["items"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{failed}"
    );
    let waiting_id = failed["items"][0]["id"].clone();
    hook.set_down(false);
    let requested = hook
        .event("approval.requested", &secret, hmac_sha256_hex)
        .await;
    assert_eq!(
        requested["id"], waiting_id,
        "the same delivery, after the outage"
    );
    assert_eq!(requested["data"]["tool_name"], "Bash");
    assert_eq!(
        requested["data"]["tool_input"]["command"],
        "echo deployed web"
    );
    assert!(requested["_links"]["answer"].is_string(), "{requested}");
    // One-tap links: absolute, no bearer token; a GET shows, a POST decides.
    let approve = requested["_links"]["approve"].as_str().unwrap().to_owned();
    let deny = requested["_links"]["deny"].as_str().unwrap().to_owned();
    assert!(
        approve.starts_with(&base) && deny.starts_with(&base),
        "{requested}"
    );
    let browser = overseer_testkit::http_api::client();
    let page = browser.get(&approve).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Approve this tool use?") && html.contains("echo deployed web"),
        "{html}"
    );
    let token = |link: &str| link.split_once("?token=").unwrap().1.to_owned();
    let approval_id = requested["data"]["approval_id"].as_str().unwrap();
    // A character inside the signature (the last one may carry only padding bits).
    let mut tampered: Vec<char> = token(&approve).chars().collect();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let refused = [
        // Tampered.
        format!("{base}/api/v1/approval-links/{approval_id}/allow?token={tampered}"),
        // The deny link's token used to allow.
        format!(
            "{base}/api/v1/approval-links/{approval_id}/allow?token={}",
            token(&deny)
        ),
        // This approval's token on another approval.
        format!(
            "{base}/api/v1/approval-links/{}/allow?token={}",
            uuid::Uuid::now_v7(),
            token(&approve)
        ),
    ];
    for link in &refused {
        let answer = browser.post(link).send().await.unwrap();
        assert_eq!(answer.status(), 401, "{link}");
    }
    let (_, pending) = alice
        .json(Method::GET, "/api/v1/approvals?status=pending", None)
        .await;
    assert_eq!(
        pending["total"], 1,
        "refused links decided nothing: {pending}"
    );
    let answer = browser.post(&approve).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().contains("Approved"));
    for again in [
        browser.post(&approve),
        browser.get(&approve),
        browser.post(&deny),
    ] {
        let answer = again.send().await.unwrap();
        assert_eq!(answer.status(), 410, "a used link is gone");
    }
    let (_, audit) = alice
        .json(
            Method::GET,
            "/api/v1/audit-logs?action=approval.decided_via_link",
            None,
        )
        .await;
    assert_eq!(
        audit["items"][0]["action_details"]["via"], "link",
        "{audit}"
    );
    let decided = hook
        .event("approval.decided", &secret, hmac_sha256_hex)
        .await;
    assert_eq!(decided["data"]["status"], "allowed");
    let finished = hook
        .event("execution.finished", &secret, hmac_sha256_hex)
        .await;
    assert_eq!(finished["data"]["execution_id"], run["id"]);
    assert_eq!(finished["data"]["status"], "completed", "{finished}");
    assert!(finished["data"]["duration_seconds"].as_f64().unwrap() > 0.0);
    assert!(finished["data"]["cost_usd"].is_number());

    let listed = alice
        .poll(&deliveries, Duration::from_secs(60), |list| {
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["status"] == "delivered")
                && list["total"] == 3
        })
        .await;
    assert_eq!(listed["total"], 3, "{listed}");
    let (status, _) = alice.json(Method::DELETE, &target_path, None).await;
    assert_eq!(status, 204);
}
