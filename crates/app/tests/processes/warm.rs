//! The warm pool through the whole service: with `--warm-agents 1`, the second run of a task
//! takes a CLI that was started ahead, in a directory made ahead, and works there like a cold
//! one: its tools run in the session's directory, its transcript is found, it archives.

use std::path::{Path, PathBuf};
use std::time::Duration;

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::script::{Reply, Script};
use serde_json::{Value, json};

use crate::node::{Node, bash_stdout, create_task, execute, finished, processes_under, temp_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_takes_the_warm_agent_and_works_in_its_directory() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    api.script(Script::new(
        "where-am-i",
        vec![Reply::bash("pwd"), Reply::text("Here.")],
    ));
    let data_dir = temp_dir("warm");
    let node =
        Node::start_with_env(&data_dir, None, &cli, &api, &["--warm-agents", "1"], &[]).await;
    let active = std::fs::canonicalize(data_dir.join("agent-workdirs/active")).ok();
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let task = create_task(
        &alice,
        json!({
            "name": "Where am I",
            "prompt_template": "where-am-i",
            "sdk_options": {"allowed_tools": ["Bash(pwd)"]},
        }),
    )
    .await;

    let cold = run(&alice, &task).await;
    assert_eq!(
        cold.dir,
        active_dir(&data_dir, &cold.session),
        "a cold run works in its own directory"
    );

    // The first run asked for these options: a CLI for them starts in a directory of its own.
    let warm_dir = wait_for_warm_agent(&data_dir, &cold.dir).await;
    // Its process exists before it is ready (initialized); the node counts it once it is.
    poll_metrics(&node.base, "overseer_agents{state=\"warm\"} 1").await;
    let warm = run(&alice, &task).await;
    assert_eq!(warm.dir, warm_dir, "the run took the warm agent");
    assert!(
        !active_dir(&data_dir, &warm.session).exists(),
        "the directory made for the session itself is removed"
    );
    if let Some(active) = active {
        assert_eq!(warm.dir.parent(), Some(active.as_path()));
    }

    let transcript = alice
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{}/transcript", warm.session),
            None,
        )
        .await;
    assert_eq!(
        transcript.status().as_u16(),
        200,
        "found where the warm CLI wrote it"
    );
    assert!(transcript.text().await.unwrap().contains("where-am-i"));

    for action in ["terminate", "archive"] {
        let (status, body) = alice
            .json(
                Method::POST,
                &format!("/api/v1/sessions/{}/{action}", warm.session),
                None,
            )
            .await;
        assert_eq!(status, 200, "{action}: {body}");
    }
    assert!(!warm.dir.exists(), "archiving moved the adopted directory");
    assert!(
        data_dir
            .join(format!("agent-workdirs/archives/{}", warm.session))
            .is_dir()
    );
}

struct Run {
    session: String,
    /// Where the agent's `pwd` ran.
    dir: PathBuf,
}

async fn run(api: &Api, task: &str) -> Run {
    let execution = execute(api, task, json!({})).await;
    let done = finished(api, &execution, Duration::from_secs(90)).await;
    assert_eq!(done["status"], json!("completed"), "{done}");
    let session = done["session_id"].as_str().unwrap().to_owned();
    let calls = api
        .poll(
            &format!("/api/v1/sessions/{session}/tool-calls"),
            Duration::from_secs(10),
            |calls: &Value| calls["items"][0]["status"] == json!("completed"),
        )
        .await;
    Run {
        session,
        dir: PathBuf::from(bash_stdout(&calls["items"][0]).trim()),
    }
}

fn active_dir(data_dir: &Path, session: &str) -> PathBuf {
    let dir = data_dir.join(format!("agent-workdirs/active/{session}"));
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// Waits until the node's `/metrics` has the line `expected`.
async fn poll_metrics(base: &str, expected: &str) {
    let client = overseer_testkit::http_api::client();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let text = match client.get(format!("{base}/metrics")).send().await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.lines().any(|line| line == expected) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/metrics never had {expected}: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The working directory of the CLI started ahead: one under `data_dir` that is not `busy`.
async fn wait_for_warm_agent(data_dir: &Path, busy: &Path) -> PathBuf {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let warm = processes_under(data_dir).into_iter().find_map(|(pid, _)| {
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
            (cwd != busy).then_some(cwd)
        });
        if let Some(dir) = warm {
            return dir;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no warm agent started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
