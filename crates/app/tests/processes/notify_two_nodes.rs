//! Two `serve` nodes share one outbox on Postgres: every delivery reaches the receiver once,
//! never twice at the same time, whichever node claims it.

use std::time::Duration;

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::Api;
use overseer_testkit::receiver::receiver;
use overseer_testkit::script::{Reply, Script};
use serde_json::{Value, json};

use crate::node::{Node, create_task, execute, finished, notification_target, temp_dir};

/// Both nodes sign and accept the same tokens.
const SHARED_JWT_SECRET: &str = "notify-two-nodes-shared-jwt-secret";
const RUNS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_send_each_delivery_once_and_never_at_the_same_time() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let Some((store, _database)) = overseer_store::testing::postgres().await else {
        return;
    };
    let url = store.connection_url().to_owned();
    drop(store);
    let fake = FakeAnthropic::start().await;
    fake.script(Script::new("outbox pair", vec![Reply::text("Done.")]));
    let env = [("OVERSEER_JWT_SECRET", SHARED_JWT_SECRET)];
    let (dir_a, dir_b) = (temp_dir("outbox-a"), temp_dir("outbox-b"));
    let a = Node::start_with_env(&dir_a, Some(&url), &cli, &fake, &[], &env).await;
    let b = Node::start_with_env(&dir_b, Some(&url), &cli, &fake, &[], &env).await;
    let on_a = Api::sign_up(&a.base, "alice@example.com").await;
    let on_b = Api {
        base: b.base.clone(),
        client: on_a.client.clone(),
        token: on_a.token.clone(),
    };

    // The receiver is down while the runs end: their notices wait in the outbox.
    let hook = receiver().await;
    hook.set_down(true);
    let (target, _) = notification_target(&on_a, &hook.url, &["execution.finished"]).await;
    let deliveries = format!("/api/v1/notification-targets/{target}/deliveries?limit=100");
    let task = create_task(
        &on_a,
        json!({"name": "Outbox pair", "prompt_template": "outbox pair"}),
    )
    .await;
    let mut runs = Vec::new();
    for n in 0..RUNS {
        let node = if n % 2 == 0 { &on_a } else { &on_b };
        runs.push(execute(node, &task, json!({})).await);
    }
    for run in &runs {
        let ended = finished(&on_a, run, Duration::from_secs(60)).await;
        assert_eq!(ended["status"], "completed", "{ended}");
    }
    let tried = |list: &Value| {
        list["items"].as_array().is_some_and(|items| {
            items.len() == RUNS && items.iter().all(|d| d["attempts"].as_u64() >= Some(1))
        })
    };
    on_a.poll(&deliveries, Duration::from_secs(60), tried).await;

    // Up again, and slow: both nodes find every delivery due at once.
    hook.set_delay(Duration::from_millis(300));
    hook.set_down(false);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while hook.delivery_ids("execution.finished").len() < RUNS {
        assert!(
            std::time::Instant::now() < deadline,
            "only {:?} arrived",
            hook.delivery_ids("execution.finished")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Time for a second copy to show up, if one were coming.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut ids = hook.delivery_ids("execution.finished");
    ids.sort();
    let received = ids.len();
    ids.dedup();
    assert_eq!((received, ids.len()), (RUNS, RUNS), "each delivery once");
    assert!(
        hook.overlaps().is_empty(),
        "sent twice at once: {:?}",
        hook.overlaps()
    );
    let sent = on_a
        .poll(&deliveries, Duration::from_secs(10), |list| {
            list["items"]
                .as_array()
                .is_some_and(|items| items.iter().all(|d| d["status"] == "delivered"))
        })
        .await;
    assert_eq!(sent["items"].as_array().unwrap().len(), RUNS);
    drop((a, b));
}
