//! Faults through the whole service (the `overseer` binary, the real CLI, the fake API; the fake
//! CLI where the CLI itself must misbehave): in each case the run ends with a reason, no row is
//! left running, and the service keeps serving.

use std::path::Path;
use std::time::Duration;

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::script::{LONG_RUNNING_PROCESS, Reply, Script, long_running_command};
use serde_json::{Value, json};

use crate::node::{
    Node, create_task, execute, finished, processes_under, sleeping_session, temp_dir, tool_calls,
};

/// Starts a node whose fake model plays `replies` for prompts containing `marker`, signs up,
/// and executes one run of a task (with a markdown report); returns the node, the user and the
/// execution id.
async fn run_once(
    cli: &Path,
    marker: &str,
    replies: Vec<Reply>,
    prepare: impl FnOnce(&Path),
) -> (Node, Api, FakeAnthropic, String) {
    let api = FakeAnthropic::start().await;
    api.script(Script::new(marker, replies));
    let data_dir = temp_dir(marker);
    prepare(&data_dir);
    let node = Node::start(&data_dir, None, cli, &api, &[]).await;
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let task = create_task(
        &alice,
        json!({
            "name": "Fault check",
            "prompt_template": format!("{marker} {{n}}"),
            "variables": [{"name": "n", "type": "string"}],
            "sdk_options": {"allowed_tools": ["Bash"]},
            "generate_report": true,
            "report_format": "markdown"
        }),
    )
    .await;
    let execution = execute(&alice, &task, json!({"n": "1"})).await;
    (node, alice, api, execution)
}

async fn settled(api: &Api, execution: &str) -> Value {
    finished(api, execution, Duration::from_secs(120)).await
}

fn failed_with_a_reason(run: &Value) {
    assert_eq!(run["status"], json!("failed"), "{run}");
    assert!(
        run["error_message"].as_str().is_some_and(|e| !e.is_empty()),
        "{run}"
    );
}

/// The run's session is not live, none of its tool calls is pending or running, and the
/// service still answers and accepts work.
async fn nothing_left_running(api: &Api, run: &Value) {
    if let Some(session) = run["session_id"].as_str() {
        let (_, view) = api
            .json(Method::GET, &format!("/api/v1/sessions/{session}"), None)
            .await;
        let status = view["status"].as_str().unwrap();
        assert!(
            !["connecting", "processing"].contains(&status),
            "session left {status}: {view}"
        );
        let calls = tool_calls(api, session).await;
        for call in calls["items"].as_array().unwrap() {
            let status = call["status"].as_str().unwrap();
            assert!(
                !["pending", "running"].contains(&status),
                "tool call left {status}: {call}"
            );
        }
    }
    let (status, _) = api.json(Method::GET, "/health", None).await;
    assert_eq!(status, 200);
    let (status, body) = api
        .json(
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"name": "Still serving", "prompt_template": "hello"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_killed_mid_turn_fails_the_run_with_a_reason() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let (node, alice, _api, execution) = run_once(
        &cli,
        "fault-killed",
        vec![
            Reply::bash(&long_running_command(60)),
            Reply::text("never reached"),
        ],
        |_| {},
    )
    .await;
    sleeping_session(&alice, &execution).await;
    let killed: Vec<u32> = processes_under(&node.data_dir)
        .into_iter()
        .filter(|(_, cmdline)| {
            cmdline.contains("claude")
                && !cmdline.starts_with("timeout")
                && !cmdline.starts_with(LONG_RUNNING_PROCESS)
        })
        .map(|(pid, _)| pid)
        .collect();
    assert!(!killed.is_empty(), "the CLI runs");
    for pid in &killed {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    let run = settled(&alice, &execution).await;
    failed_with_a_reason(&run);
    nothing_left_running(&alice, &run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_failing_with_500_fails_the_run_with_a_reason() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    // The node's agents run with CLAUDE_CODE_MAX_RETRIES=0: the CLI gives up at once.
    let (_node, alice, _api, execution) = run_once(
        &cli,
        "fault-api",
        vec![Reply::ApiError { status: 500 }],
        |_| {},
    )
    .await;
    let run = settled(&alice, &execution).await;
    failed_with_a_reason(&run);
    nothing_left_running(&alice, &run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_report_directory_still_completes_the_run_and_records_why() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    // A file where the report directory should be: unwritable even for root.
    let (_node, alice, _api, execution) = run_once(
        &cli,
        "fault-report",
        vec![Reply::bash("echo checked"), Reply::text("All good.")],
        |data_dir| std::fs::write(data_dir.join("reports"), "not a directory").unwrap(),
    )
    .await;
    let run = settled(&alice, &execution).await;
    assert_eq!(run["status"], json!("completed"), "{run}");
    assert_eq!(run["report_id"], Value::Null, "{run}");
    let (_, audit) = alice
        .json(
            Method::GET,
            &format!("/api/v1/audit-logs?resource_id={execution}"),
            None,
        )
        .await;
    let executed = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["action_type"] == json!("task.executed"))
        .unwrap_or_else(|| panic!("{audit}"));
    assert!(
        executed["action_details"]["report_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{executed}"
    );
    nothing_left_running(&alice, &run).await;
}

/// The fake `claude` binary (testkit), built beside `overseer`; built on demand when only this
/// package's tests were built.
fn fake_cli() -> std::path::PathBuf {
    let fake = Path::new(env!("CARGO_BIN_EXE_overseer")).with_file_name("fake-claude");
    if !fake.exists() {
        let built = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "overseer-testkit", "--bin", "fake-claude"])
            .status()
            .expect("run cargo");
        assert!(built.success(), "cannot build fake-claude");
    }
    fake
}

/// A CLI that prints something the protocol cannot carry: the run fails with a reason, and
/// the same service then completes a healthy run.
async fn broken_output_fails_only_its_run(marker: &str, broken: Reply, reason: &str) {
    let scripts = serde_json::to_string(&[
        Script::new(marker, vec![broken]),
        Script::new(
            "healthy",
            vec![Reply::bash("echo ok"), Reply::text("Fine.")],
        ),
    ])
    .unwrap();
    let data_dir = temp_dir(marker);
    let api = FakeAnthropic::start().await;
    let node = Node::start_with_env(
        &data_dir,
        None,
        &fake_cli(),
        &api,
        &["--agent-env-passthrough", "FAKE_CLAUDE_SCRIPTS"],
        &[("FAKE_CLAUDE_SCRIPTS", &scripts)],
    )
    .await;
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let task = |prompt: &str| {
        json!({
            "name": prompt,
            "prompt_template": prompt,
            "sdk_options": {"allowed_tools": ["Bash"]},
        })
    };
    let broken_task = create_task(&alice, task(marker)).await;
    let run = settled(&alice, &execute(&alice, &broken_task, json!({})).await).await;
    failed_with_a_reason(&run);
    assert!(
        run["error_message"].as_str().unwrap().contains(reason),
        "{run}"
    );
    nothing_left_running(&alice, &run).await;

    let healthy = create_task(&alice, task("healthy")).await;
    let run = settled(&alice, &execute(&alice, &healthy, json!({})).await).await;
    assert_eq!(run["status"], json!("completed"), "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_printing_garbage_fails_its_run_and_the_service_goes_on() {
    broken_output_fails_only_its_run("fault-garbage", Reply::Garbage, "not JSON").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_printing_a_20_mib_line_fails_its_run_and_the_service_goes_on() {
    let huge = Reply::HugeLine {
        bytes: 20 * 1024 * 1024,
    };
    broken_output_fails_only_its_run("fault-huge-line", huge, "line over").await;
}

/// A Postgres cluster of this test's own (so that restarting it disturbs no other test),
/// run by the `postgres` user from the machine's PostgreSQL binaries.
struct PrivatePostgres {
    dir: std::path::PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn bin(tool: &str) -> std::path::PathBuf {
        let versions = std::fs::read_dir("/usr/lib/postgresql").expect("PostgreSQL is installed");
        versions
            .flatten()
            .map(|version| version.path().join("bin").join(tool))
            .find(|path| path.exists())
            .unwrap_or_else(|| panic!("no {tool} under /usr/lib/postgresql"))
    }

    fn as_postgres(tool: &str, args: &[&str]) {
        let status = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(Self::bin(tool))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("run a PostgreSQL tool as postgres");
        assert!(status.success(), "{tool} {args:?} failed");
    }

    fn start() -> Self {
        let dir = temp_dir("private-postgres");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let _ = std::process::Command::new("chown")
            .args(["postgres:postgres", &dir.display().to_string()])
            .status();
        let data = dir.join("data").display().to_string();
        Self::as_postgres(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.display()
        );
        let log = dir.join("log").display().to_string();
        Self::as_postgres(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        );
        Self { dir, port }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// `pg_ctl restart -m fast`: every connection is cut, the server comes back on its port.
    fn restart(&self) {
        Self::as_postgres(
            "pg_ctl",
            &["-D", &self.data(), "-m", "fast", "-w", "restart"],
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(Self::bin("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_run_the_service_reconnects_and_the_run_ends_with_a_reason() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let postgres = PrivatePostgres::start();
    let api = FakeAnthropic::start().await;
    api.script(Script::new(
        "pg-restart",
        vec![Reply::bash(&long_running_command(3)), Reply::text("Slept.")],
    ));
    api.script(Script::new(
        "after-restart",
        vec![Reply::bash("echo ok"), Reply::text("Fine.")],
    ));
    let data_dir = temp_dir("pg-restart");
    let node = Node::start(&data_dir, Some(&postgres.url()), &cli, &api, &[]).await;
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let task = |prompt: &str| json!({"name": prompt, "prompt_template": prompt, "sdk_options": {"allowed_tools": ["Bash"]}});
    let during = create_task(&alice, task("pg-restart")).await;
    let execution = execute(&alice, &during, json!({})).await;
    sleeping_session(&alice, &execution).await;
    postgres.restart();

    let run = settled(&alice, &execution).await;
    let ended_with_a_reason = run["status"] == json!("completed")
        || (run["status"] == json!("failed")
            && run["error_message"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(ended_with_a_reason, "{run}");
    eprintln!(
        "the run across the restart ended {} ({})",
        run["status"], run["error_message"]
    );
    nothing_left_running(&alice, &run).await;

    // The same process, never restarted, runs the next execution on the new connections.
    let after = create_task(&alice, task("after-restart")).await;
    let run = settled(&alice, &execute(&alice, &after, json!({})).await).await;
    assert_eq!(run["status"], json!("completed"), "{run}\n{}", node.log());
}
