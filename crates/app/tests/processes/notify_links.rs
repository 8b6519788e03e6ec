//! Issue 21's first check, with the server as a child process: a tool under `ask_tools`
//! asks; the receiver gets `approval.requested` (signed) with both links; a POST to
//! `links.approve` lets the tool run and the run complete; the receiver gets
//! `execution.finished` (completed); the same link again is refused.

use overseer_services::hmac_sha256_hex;
use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::receiver::receiver;
use overseer_testkit::script::{Reply, Script};
use serde_json::json;

use crate::node::{Node, create_task, execute, notification_target, temp_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_tap_link_from_a_notification_releases_the_tool_and_the_end_is_notified() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    api.script(Script::new(
        "Deploy the api service",
        vec![
            Reply::bash("echo deployed api"),
            Reply::text("Deployed api."),
        ],
    ));
    let data_dir = temp_dir("notify-links");
    let node = Node::start(&data_dir, None, &cli, &api, &[]).await;
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let hook = receiver().await;
    let (_, secret) = notification_target(
        &alice,
        &hook.url,
        &["approval.requested", "execution.finished"],
    )
    .await;
    let task = create_task(
        &alice,
        json!({"name": "Deploy", "prompt_template": "Deploy the {service} service.",
               "variables": [{"name": "service", "type": "string"}],
               "sdk_options": {"ask_tools": ["Bash"], "max_turns": 5}}),
    )
    .await;
    let run = execute(&alice, &task, json!({"service": "api"})).await;

    let requested = hook
        .event("approval.requested", &secret, hmac_sha256_hex)
        .await;
    let approve = requested["_links"]["approve"].as_str().unwrap().to_owned();
    assert!(approve.starts_with(&node.base), "{requested}");
    assert!(
        requested["_links"]["deny"]
            .as_str()
            .unwrap()
            .starts_with(&node.base)
    );
    let browser = overseer_testkit::http_api::client();
    let answer = browser.post(&approve).send().await.unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());

    let finished = hook
        .event("execution.finished", &secret, hmac_sha256_hex)
        .await;
    assert_eq!(finished["data"]["execution_id"], json!(run));
    assert_eq!(finished["data"]["status"], "completed", "{finished}");
    let (_, calls) = alice
        .json(
            Method::GET,
            &format!(
                "/api/v1/sessions/{}/tool-calls",
                finished["data"]["session_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        calls["items"][0]["permission_decision"], "allowed",
        "{calls}"
    );
    let again = browser.post(&approve).send().await.unwrap();
    assert_eq!(again.status(), 410, "the same link again is refused");
}
