//! The kill test: the server dies by SIGKILL with 5 runs in flight and is started again.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::script::{Reply, Script, long_running_command};
use serde_json::json;

use crate::node::{Node, create_task, execute, processes_under, sleeping_session, temp_dir};

const RUNS: usize = 5;

fn flags() -> [&'static str; 8] {
    [
        "--max-concurrent-executions",
        "5",
        "--max-running-total",
        "10",
        "--max-running-per-user",
        "10",
        "--max-live-agents",
        "6",
    ]
}

/// The ids of a session's stored messages.
async fn message_ids(api: &Api, session: &str) -> BTreeSet<String> {
    let (status, body) = api
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{session}/messages?limit=100"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_runs_in_flight_leaves_no_orphan_and_loses_no_message() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    api.script(Script::new(
        "kill-test",
        vec![
            Reply::bash(&long_running_command(120)),
            Reply::text("never reached"),
        ],
    ));
    let data_dir = temp_dir("kill");
    let mut node = Node::start(&data_dir, None, &cli, &api, &flags()).await;
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let task = create_task(
        &alice,
        json!({
            "name": "Long check",
            "prompt_template": "kill-test {n}",
            "variables": [{"name": "n", "type": "string"}],
            "sdk_options": {"allowed_tools": ["Bash(timeout:*)"]},
        }),
    )
    .await;
    let mut executions = Vec::new();
    for n in 0..RUNS {
        executions.push(execute(&alice, &task, json!({"n": n.to_string()})).await);
    }
    let mut committed = Vec::new();
    for execution in &executions {
        let session = sleeping_session(&alice, execution).await;
        let messages = message_ids(&alice, &session).await;
        assert!(!messages.is_empty());
        committed.push((session, messages));
    }
    let agents = processes_under(&data_dir);
    let claudes = agents
        .iter()
        .filter(|(_, cmdline)| cmdline.contains("claude"))
        .count();
    assert!(
        claudes >= RUNS,
        "{RUNS} agents should be running, found {agents:?}"
    );

    node.kill();
    let restarted = Node::start(&data_dir, None, &cli, &api, &flags()).await;
    let alice = Api {
        base: restarted.base.clone(),
        ..alice
    };

    // No process of the old instance's agents is left: neither a CLI nor its tools.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_under(&data_dir);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still alive after the restart: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // No execution is left running: each failed as "node lost", its session failed.
    for execution in &executions {
        let (_, run) = alice
            .json(
                Method::GET,
                &format!("/api/v1/task-executions/{execution}"),
                None,
            )
            .await;
        assert_eq!(run["status"], json!("failed"), "{run}");
        assert_eq!(run["error_message"], json!("node lost"), "{run}");
    }
    let (_, all) = alice
        .json(
            Method::GET,
            &format!("/api/v1/tasks/{task}/executions"),
            None,
        )
        .await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), RUNS);
    assert!(
        items.iter().all(|run| run["status"] != json!("running")),
        "{all}"
    );

    // Every message the old instance had committed is still there.
    for (session, before) in &committed {
        let (_, stored) = alice
            .json(Method::GET, &format!("/api/v1/sessions/{session}"), None)
            .await;
        assert_eq!(stored["status"], json!("failed"), "{stored}");
        let after = message_ids(&alice, session).await;
        assert!(
            before.is_subset(&after),
            "lost messages: {:?}",
            before.difference(&after).collect::<Vec<_>>()
        );
    }
    drop(restarted);
    let _ = std::fs::remove_dir_all(&data_dir);
}
