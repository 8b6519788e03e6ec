//! Soak, the short CI variant (`just bench soak` runs 1,000 with the fake CLI): 60 executions
//! in a row with the real CLI. Every run completes, and the server's open file descriptors do
//! not grow with the number of runs: what a run opens (agent pipes, database handles, the
//! working directory) is closed with it.

use std::time::Duration;

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::Api;
use overseer_testkit::script::{Reply, Script};
use serde_json::json;

use crate::node::{Node, create_task, execute, finished, temp_dir};

const RUNS: usize = 60;

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_in_a_row_all_complete_and_leak_no_file_descriptor() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    api.script(Script::new(
        "soak-run",
        vec![Reply::bash("echo soak"), Reply::text("Done.")],
    ));
    let data_dir = temp_dir("soak");
    let node = Node::start(&data_dir, None, &cli, &api, &[]).await;
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let task = create_task(
        &alice,
        json!({
            "name": "Soak",
            "prompt_template": "soak-run {n}",
            "variables": [{"name": "n", "type": "string"}],
            "sdk_options": {"allowed_tools": ["Bash(echo:*)"]},
        }),
    )
    .await;
    let mut fds = Vec::new();
    for n in 0..RUNS {
        let execution = execute(&alice, &task, json!({"n": n.to_string()})).await;
        let run = finished(&alice, &execution, Duration::from_secs(60)).await;
        assert_eq!(run["status"], json!("completed"), "run {n}: {run}");
        fds.push(open_fds(node.pid()));
    }
    // After the first few runs have warmed the pools, the count stays level.
    let warmed = fds[RUNS / 4];
    let last = fds[RUNS - 1];
    assert!(
        last <= warmed + 4,
        "open descriptors grew from {warmed} to {last}: {fds:?}"
    );
}
