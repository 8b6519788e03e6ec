//! The CLI client (`overseer login`, `task …`, `approvals`, `approve`) against a running
//! server whose agents are the real CLI and whose model is scripted.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::Api;
use overseer_testkit::script::{Reply, Script};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use crate::node::{Node, temp_dir};

const PASSWORD: &str = "correct horse battery";

/// `overseer <args>` as a client of `server`, keeping its tokens under `config`.
fn client(config: &Path, server: &str, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_overseer"));
    command
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .env("OVERSEER_SERVER", server)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// The client as one user of one server.
struct User<'a> {
    config: &'a Path,
    server: &'a str,
}

impl User<'_> {
    /// `overseer <args>` with `stdin`, to its end.
    async fn run_with(&self, args: &[&str], stdin: &str) -> Output {
        run(self.config, self.server, args, stdin).await
    }

    /// `overseer <args>`, to its end.
    async fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, "").await
    }
}

async fn run(config: &Path, server: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = client(config, server, args)
        .spawn()
        .expect("start the client");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the client ends within 2 minutes")
        .unwrap()
}

fn show(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts the client exited with `code` and `stderr` says `says`.
fn expect(output: &Output, code: i32, says: &str) {
    assert_eq!(output.status.code(), Some(code), "{}", show(output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(says),
        "{says:?} missing: {}",
        show(output)
    );
}

fn scripts() -> Vec<Script> {
    vec![
        Script::new(
            "production cluster",
            vec![
                Reply::bash("echo 'api-0 1/1 Running'"),
                Reply::text("All pods in production are healthy."),
            ],
        ),
        // The model refuses: the run fails.
        Script::new("broken cluster", vec![Reply::ApiError { status: 400 }]),
        Script::new(
            "Deploy the web service",
            vec![
                Reply::bash("echo deployed web"),
                Reply::text("Deployed web."),
            ],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_follows_runs_to_their_end_and_answers_approvals() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    for script in scripts() {
        api.script(script);
    }
    let data_dir = temp_dir("client");
    let node = Node::start(&data_dir, None, &cli, &api, &[]).await;
    let server = node.base.as_str();
    Api::sign_up(server, "alice@example.com").await;
    let config = data_dir.join("client-config");
    let alice = User {
        config: &config,
        server,
    };

    // Not signed in: a clear error, exit 2.
    let output = alice.run(&["task", "list"]).await;
    expect(&output, 2, "overseer login");

    // A wrong password is refused and keeps nothing.
    let login = ["login", "--email", "alice@example.com", "--password-stdin"];
    let output = alice.run_with(&login, "wrong\n").await;
    expect(&output, 2, "401");
    let output = alice.run_with(&login, &format!("{PASSWORD}\n")).await;
    expect(&output, 0, "signed in");
    let kept = std::fs::read_to_string(config.join("overseer/credentials.json")).unwrap();
    assert!(!kept.contains(PASSWORD), "the password is never kept");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(config.join("overseer/credentials.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "only the user reads the tokens");
    }

    // task create -f, task list (a table, and --json).
    let task_file = data_dir.join("task.json");
    std::fs::write(
        &task_file,
        json!({
            "name": "Kubernetes Cluster Health Check",
            "prompt_template": "Check the health of the {cluster_name} cluster.",
            "variables": [{"name": "cluster_name", "type": "string"}],
            "sdk_options": {"allowed_tools": ["Bash(echo:*)"], "max_turns": 5}
        })
        .to_string(),
    )
    .unwrap();
    let output = alice
        .run(&["task", "create", "-f", task_file.to_str().unwrap()])
        .await;
    expect(&output, 0, "created task");
    let task = stdout(&output).trim().to_owned();
    let output = alice.run(&["task", "list"]).await;
    assert!(
        stdout(&output).contains("Kubernetes Cluster Health Check")
            && stdout(&output).contains(&task),
        "{}",
        show(&output)
    );
    let output = alice.run(&["--json", "task", "list"]).await;
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed["items"][0]["id"], json!(task));

    // task run --follow prints the run as it goes and exits 0 when it completed.
    let output = alice
        .run(&[
            "task",
            "run",
            &task,
            "--var",
            "cluster_name=production",
            "--follow",
        ])
        .await;
    assert!(output.status.success(), "{}", show(&output));
    let printed = stdout(&output);
    for expected in [
        "> Check the health of the production cluster.",
        "⚙ Bash",
        "↳ api-0 1/1 Running",
        "All pods in production are healthy.",
    ] {
        assert!(
            printed.contains(expected),
            "{expected:?} missing:\n{}",
            show(&output)
        );
    }
    expect(&output, 0, "completed");

    // …and non-zero when it failed.
    let output = alice
        .run(&[
            "task",
            "run",
            &task,
            "--var",
            "cluster_name=broken",
            "--follow",
        ])
        .await;
    expect(&output, 1, "failed");

    // A tool under ask_tools waits until `overseer approve` releases it.
    std::fs::write(
        &task_file,
        json!({"name": "Deploy", "prompt_template": "Deploy the {service} service.",
               "variables": [{"name": "service", "type": "string"}],
               "sdk_options": {"ask_tools": ["Bash"], "max_turns": 5}})
        .to_string(),
    )
    .unwrap();
    let output = alice
        .run(&["task", "create", "-f", task_file.to_str().unwrap()])
        .await;
    let deploy = stdout(&output).trim().to_owned();
    let follower = client(
        &config,
        server,
        &[
            "--json",
            "task",
            "run",
            &deploy,
            "--var",
            "service=web",
            "--follow",
        ],
    )
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let approval = loop {
        let output = alice.run(&["--json", "approvals"]).await;
        let list: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        if let Some(id) = list["items"][0]["id"].as_str() {
            assert_eq!(list["items"][0]["tool_name"], json!("Bash"));
            break id.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no approval appeared: {}",
            show(&output)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let output = alice.run(&["approvals"]).await;
    assert!(
        stdout(&output).contains(&approval),
        "a table for people: {}",
        show(&output)
    );
    let output = alice.run(&["approve", &approval]).await;
    assert!(output.status.success(), "{}", show(&output));
    let output = tokio::time::timeout(Duration::from_secs(60), follower.wait_with_output())
        .await
        .expect("the run ends once approved")
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let lines: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["kind"] == "message" && l["message"].to_string().contains("deployed web")),
        "the tool ran: {}",
        show(&output)
    );
    assert_eq!(
        lines.last().unwrap()["execution"]["status"],
        json!("completed")
    );
    // Answered once: a second answer finds nothing pending.
    let output = alice.run(&["deny", &approval]).await;
    expect(&output, 2, "no pending approval");
}
