//! The `overseer` binary as a child process, the way an operator runs it, and a client for it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use overseer_testkit::http_api::{Api, Method};
use serde_json::{Value, json};

use crate::bare::Cli;

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    /// Where its SQLite database lives, unless it runs on Postgres.
    pub database_url: String,
}

/// The `overseer` binary built next to this one (`just bench` builds both).
fn overseer_binary() -> PathBuf {
    let me = std::env::current_exe().unwrap();
    let binary = me.with_file_name("overseer");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build --release -p overseer-app`",
        binary.display()
    );
    binary
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Starts `overseer serve` on a fresh data directory (SQLite unless `database_url`), its
    /// agents being `cli` with the same environment as the bare side, plus `flags`.
    pub async fn start(cli: &Cli, label: &str, database_url: Option<&str>, flags: &[&str]) -> Self {
        let data_dir = cli.root.join(format!("server-{label}"));
        std::fs::create_dir_all(&data_dir).unwrap();
        let base = format!("http://127.0.0.1:{}", free_port());
        // `BENCH_SERVER_LOG=<RUST_LOG filter>` shows the server's log (for profiling).
        let log = std::env::var("BENCH_SERVER_LOG").ok();
        let mut command = Command::new(overseer_binary());
        command
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--bind", base.trim_start_matches("http://")])
            .arg("--claude-binary")
            .arg(&cli.binary)
            // The bare side is never sandboxed: neither are the server's agents, so both run
            // the same processes (bubblewrap's own start-up is not what is compared).
            .args(["--agent-sandbox", "off"])
            .args(flags)
            // The fake CLI's scripts travel in the environment: let them through to agents.
            .arg("--agent-env-passthrough")
            .arg(cli.env.keys().cloned().collect::<Vec<_>>().join(","))
            .arg("serve")
            .env_remove("DATABASE_URL")
            .envs(
                cli.env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.expose().to_owned())),
            )
            .env("RUST_LOG", log.as_deref().unwrap_or("warn"))
            .stdin(Stdio::null())
            // The server logs to standard output: shown only when a level is asked for.
            .stdout(if log.is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::inherit());
        if let Some(url) = database_url {
            command.env("DATABASE_URL", url);
        }
        let mut server = Self {
            child: command.spawn().expect("start overseer"),
            base,
            database_url: database_url.map_or_else(
                || {
                    format!(
                        "sqlite://{}?mode=rw",
                        data_dir.join("overseer.db").display()
                    )
                },
                str::to_owned,
            ),
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&mut self) {
        let client = overseer_testkit::http_api::client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("overseer exited with {status}");
            }
            if let Ok(response) = client.get(format!("{}/health", self.base)).send().await
                && response.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "overseer never became healthy");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's own resident memory (not its agents'), in MiB.
    pub fn rss_mib(&self) -> f64 {
        rss_mib(self.child.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmRSS` of process `pid`, in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// A signed-up user with one task whose template is `"{prompt}"` and whose options are `options`.
pub struct Tenant {
    pub api: Api,
    pub task: String,
}

impl Tenant {
    pub async fn new(server: &Server, email: &str, options: &Value) -> Self {
        let api = Api::sign_up(&server.base, email).await;
        let (status, task) = api
            .json(
                Method::POST,
                "/api/v1/tasks",
                Some(json!({
                    "name": "Benchmark",
                    "prompt_template": "{prompt}",
                    "variables": [{"name": "prompt", "type": "string"}],
                    "sdk_options": options,
                })),
            )
            .await;
        assert_eq!(status, 201, "{task}");
        Self {
            api,
            task: task["id"].as_str().unwrap().to_owned(),
        }
    }

    /// Submits a run; its id.
    pub async fn execute(&self, prompt: &str) -> String {
        let (status, run) = self
            .api
            .json(
                Method::POST,
                &format!("/api/v1/tasks/{}/execute", self.task),
                Some(json!({"variables": {"prompt": prompt}})),
            )
            .await;
        assert_eq!(status, 202, "{run}");
        run["id"].as_str().unwrap().to_owned()
    }

    /// Waits (server side, `Prefer: wait`) until the run has ended; its final state.
    pub async fn wait(&self, run: &str) -> Value {
        loop {
            let response = self
                .api
                .client
                .get(format!("{}/api/v1/task-executions/{run}", self.api.base))
                .bearer_auth(self.api.token.as_deref().unwrap())
                .header("prefer", "wait=120")
                .send()
                .await
                .unwrap();
            let body: Value = response.json().await.unwrap();
            if matches!(
                body["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            ) {
                return body;
            }
        }
    }
}

/// The scratch directory of one benchmark run.
pub fn scratch_root() -> PathBuf {
    let root = std::env::temp_dir().join(format!("overseer-bench-{}", std::process::id()));
    std::fs::create_dir_all(root.join("home")).unwrap();
    root
}

/// Removes `path`, ignoring what is already gone.
pub fn remove(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}
