//! The outbox survives the server: a delivery still pending when the server is killed
//! (SIGKILL) reaches its receiver after the restart, with the same id.

use std::time::Duration;

use overseer_services::hmac_sha256_hex;
use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::Api;
use overseer_testkit::receiver::receiver;
use overseer_testkit::script::{Reply, Script};
use serde_json::json;

use crate::node::{Node, create_task, execute, finished, notification_target, temp_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_delivery_is_sent_after_the_server_is_killed_and_restarted() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    api.script(Script::new("outbox restart", vec![Reply::text("Done.")]));
    let data_dir = temp_dir("notify-restart");
    let mut node = Node::start(&data_dir, None, &cli, &api, &[]).await;
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let hook = receiver().await;
    hook.set_down(true);
    let (target, secret) = notification_target(&alice, &hook.url, &["execution.finished"]).await;
    let deliveries = format!("/api/v1/notification-targets/{target}/deliveries");
    let task = create_task(
        &alice,
        json!({"name": "Outbox", "prompt_template": "outbox restart"}),
    )
    .await;
    let run = execute(&alice, &task, json!({})).await;
    let ended = finished(&alice, &run, Duration::from_secs(60)).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    let pending = alice
        .poll(&deliveries, Duration::from_secs(30), |list| {
            list["items"][0]["attempts"].as_u64() >= Some(1)
        })
        .await;
    assert_eq!(pending["items"][0]["status"], "pending", "{pending}");
    let id = pending["items"][0]["id"].clone();

    node.kill();
    hook.set_down(false);
    let restarted = Node::start(&data_dir, None, &cli, &api, &[]).await;
    let delivered = hook
        .event("execution.finished", &secret, hmac_sha256_hex)
        .await;
    assert_eq!(
        delivered["id"], id,
        "the same delivery, sent by the restarted server"
    );
    assert_eq!(delivered["data"]["execution_id"], json!(run));
    drop(restarted);
}
