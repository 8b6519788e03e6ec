//! One `overseer serve` child process and what the tests ask of it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::{Api, Method};
use serde_json::{Value, json};

/// A running server. Killed (SIGKILL) when dropped.
pub struct Node {
    child: Child,
    pub base: String,
    pub data_dir: PathBuf,
}

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("overseer-{label}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `http://127.0.0.1:<a free port>`.
pub fn free_base_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

impl Node {
    /// Starts `overseer serve` on `data_dir` (SQLite there unless `database_url`), with the
    /// real CLI pointed at `api` (an empty `cli`: none configured), plus `flags`; returns once
    /// `/health` answers.
    pub async fn start(
        data_dir: &Path,
        database_url: Option<&str>,
        cli: &Path,
        api: &FakeAnthropic,
        flags: &[&str],
    ) -> Self {
        Self::start_with_env(data_dir, database_url, cli, api, flags, &[]).await
    }

    /// [`Node::start`] with extra environment variables for the server.
    pub async fn start_with_env(
        data_dir: &Path,
        database_url: Option<&str>,
        cli: &Path,
        api: &FakeAnthropic,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let base = free_base_url();
        Self::start_at(base, data_dir, database_url, cli, api, flags, env).await
    }

    /// [`Node::start_with_env`] listening at `base` (from [`free_base_url`]), for settings
    /// that must name the node's own address before it starts.
    pub async fn start_at(
        base: String,
        data_dir: &Path,
        database_url: Option<&str>,
        cli: &Path,
        api: &FakeAnthropic,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let home = data_dir.join("agent-home");
        std::fs::create_dir_all(&home).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("node.log"))
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_overseer"));
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--bind", base.trim_start_matches("http://")]);
        if cli.as_os_str().is_empty() {
            // No CLI configured: the node looks on PATH and under its working directory.
            command.current_dir(data_dir);
        } else {
            command.arg("--claude-binary").arg(cli);
        }
        command
            .args(flags)
            .arg("serve")
            .env_remove("DATABASE_URL")
            .env("ANTHROPIC_BASE_URL", api.base_url())
            .env("ANTHROPIC_API_KEY", "sk-ant-process-test")
            .env("HOME", &home)
            .env("CLAUDE_CONFIG_DIR", data_dir.join("claude-config"))
            .env("CLAUDE_CODE_MAX_RETRIES", "0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(url) = database_url {
            command.env("DATABASE_URL", url);
        }
        command.envs(env.iter().copied());
        let mut node = Self {
            child: command.spawn().expect("start overseer"),
            base,
            data_dir: data_dir.to_owned(),
        };
        node.wait_healthy().await;
        node
    }

    async fn wait_healthy(&mut self) {
        let client = overseer_testkit::http_api::client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("overseer exited with {status}: {}", self.log());
            }
            // Up: healthy, or serving without agents (degraded).
            if let Ok(response) = client.get(format!("{}/health", self.base)).send().await
                && let Ok(body) = response.json::<Value>().await
                && (body["status"] == "ok" || body["status"] == "degraded")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "overseer never became healthy: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The node's own log (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("node.log")).unwrap_or_default()
    }

    /// The node's name in leases (kept in its data directory).
    pub fn node_id(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("node-id"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A notification target of the caller for `events`, sending to `url`: its id and secret.
pub async fn notification_target(api: &Api, url: &str, events: &[&str]) -> (String, String) {
    let (status, target) = api
        .json(
            Method::POST,
            "/api/v1/notification-targets",
            Some(json!({"url": url, "events": events})),
        )
        .await;
    assert_eq!(status, 201, "{target}");
    let field = |name: &str| target[name].as_str().unwrap().to_owned();
    (field("id"), field("secret"))
}

/// Creates a task from `body`; its id.
pub async fn create_task(api: &Api, body: Value) -> String {
    let (status, task) = api.json(Method::POST, "/api/v1/tasks", Some(body)).await;
    assert_eq!(status, 201, "{task}");
    task["id"].as_str().unwrap().to_owned()
}

/// Executes `task` with `variables`; the execution's id.
pub async fn execute(api: &Api, task: &str, variables: Value) -> String {
    let (status, run) = api
        .json(
            Method::POST,
            &format!("/api/v1/tasks/{task}/execute"),
            Some(json!({ "variables": variables })),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    run["id"].as_str().unwrap().to_owned()
}

/// Waits until `execution` is no longer pending or running; its final state.
pub async fn finished(api: &Api, execution: &str, within: Duration) -> Value {
    api.poll(
        &format!("/api/v1/task-executions/{execution}"),
        within,
        |run| {
            run["status"]
                .as_str()
                .is_some_and(|s| s != "pending" && s != "running")
        },
    )
    .await
}

/// Waits until `execution` runs its agent's `sleep` tool; returns its session id.
pub async fn sleeping_session(api: &Api, execution: &str) -> String {
    let run = api
        .poll(
            &format!("/api/v1/task-executions/{execution}"),
            Duration::from_secs(90),
            |run| run["session_id"].is_string(),
        )
        .await;
    let session = run["session_id"].as_str().unwrap().to_owned();
    api.poll(
        &format!("/api/v1/sessions/{session}/tool-calls"),
        Duration::from_secs(90),
        |calls| {
            calls["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|c| c["status"] == json!("running")))
        },
    )
    .await;
    session
}

/// Processes whose working directory lies under `dir` (the agents and their tools run in
/// session directories there), as (pid, command line).
pub fn processes_under(dir: &Path) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cwd = std::fs::read_link(entry.path().join("cwd")).ok()?;
            if !cwd.starts_with(dir) || is_zombie(pid) {
                return None;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some((pid, cmdline))
        })
        .collect()
}

/// A zombie has exited; only its parent's `wait` is missing.
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = &stat[stat.rfind(')')? + 1..];
            after.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(true)
}

/// The tool calls of `session`, in call order.
pub async fn tool_calls(api: &Api, session: &str) -> Value {
    let (status, calls) = api
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{session}/tool-calls"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{calls}");
    calls
}

/// The stdout of a Bash tool call, from the CLI's structured account of it
/// (`tool_response`: `{"stdout": …, "stderr": …}`).
pub fn bash_stdout(call: &Value) -> String {
    call["tool_response"]["stdout"]
        .as_str()
        .unwrap_or_else(|| panic!("no stdout: {call}"))
        .to_owned()
}
