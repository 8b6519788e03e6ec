//! Agents never outlive the service: with the sandbox off, SIGKILL the server while three runs
//! sleep in a Bash tool, and within 2 s no process any agent started is alive, before any
//! restart (the start-up reaping is only the second line).

use std::time::{Duration, Instant};

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::script::{LONG_RUNNING_PROCESS, Reply, Script, long_running_command};
use serde_json::json;

use crate::node::{Node, create_task, execute, processes_under, sleeping_session, temp_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_takes_every_agent_process_with_it_without_a_sandbox() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    api.script(Script::new(
        "outlive-test",
        vec![
            Reply::bash(&long_running_command(300)),
            Reply::text("never reached"),
        ],
    ));
    let data_dir = temp_dir("outlive");
    let mut node = Node::start(&data_dir, None, &cli, &api, &["--agent-sandbox", "off"]).await;
    let alice = overseer_testkit::http_api::Api::sign_up(&node.base, "alice@example.com").await;
    let task = create_task(
        &alice,
        json!({
            "name": "Sleeper",
            "prompt_template": "outlive-test {n}",
            "variables": [{"name": "n", "type": "string"}],
            "sdk_options": {"allowed_tools": ["Bash(timeout:*)"]},
        }),
    )
    .await;
    let mut executions = Vec::new();
    for n in 0..3 {
        executions.push(execute(&alice, &task, json!({"n": n.to_string()})).await);
    }
    for execution in &executions {
        sleeping_session(&alice, execution).await;
    }
    // The tools' own processes, once each has started.
    let started = Instant::now();
    loop {
        let now = processes_under(&data_dir);
        let sleeps = now
            .iter()
            .filter(|(_, cmdline)| cmdline.starts_with(LONG_RUNNING_PROCESS))
            .count();
        if sleeps >= 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "three tools should sleep: {now:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    node.kill();
    let killed = Instant::now();
    loop {
        let left = processes_under(&data_dir);
        if left.is_empty() {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(2),
            "alive 2 s after the server was killed: {left:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "every agent process gone {:?} after SIGKILL",
        killed.elapsed()
    );
}
