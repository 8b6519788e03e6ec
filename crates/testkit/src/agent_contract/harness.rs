//! One scripted scenario, two backends: the fake CLI plays the script itself; the real CLI
//! asks the fake Anthropic API, which plays it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use overseer_domain::AgentOptions;
use overseer_ports::agent::{AgentRunner, AgentSpec, Secret};
use serde_json::Value;

use crate::fake_api::FakeAnthropic;
use crate::script::{Script, first_user_text};

/// Builds the runner a harness drives (the adapter under test), from the binary and the
/// environment the backend needs.
pub type RunnerFactory =
    Box<dyn Fn(&Path, BTreeMap<String, Secret>) -> Arc<dyn AgentRunner> + Send + Sync>;

enum Backend {
    FakeCli {
        log: PathBuf,
        scripts: Mutex<Vec<Script>>,
    },
    RealCli {
        api: FakeAnthropic,
    },
}

/// A runner plus the scripted world around it, in a temporary directory of its own.
pub struct AgentHarness {
    pub runner: Arc<dyn AgentRunner>,
    backend: Backend,
    root: PathBuf,
}

impl std::fmt::Debug for AgentHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentHarness")
            .field("fake", &self.is_fake_cli())
            .field("root", &self.root)
            .finish()
    }
}

fn temp_root() -> PathBuf {
    let root =
        std::env::temp_dir().join(format!("overseer-agent-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&root).expect("create harness dir");
    root
}

impl AgentHarness {
    /// The fake `claude` binary at `binary`.
    pub fn fake_cli(binary: &Path, make_runner: &RunnerFactory) -> Self {
        let root = temp_root();
        Self {
            runner: make_runner(binary, BTreeMap::new()),
            backend: Backend::FakeCli {
                log: root.join("model-calls.jsonl"),
                scripts: Mutex::new(Vec::new()),
            },
            root,
        }
    }

    /// The real CLI at `binary`, pointed at a fresh fake Anthropic API.
    pub async fn real_cli(binary: &Path, make_runner: &RunnerFactory) -> Self {
        let root = temp_root();
        std::fs::create_dir_all(root.join("home")).expect("create harness home");
        let api = FakeAnthropic::start().await;
        let env = BTreeMap::from([
            ("ANTHROPIC_BASE_URL".to_owned(), Secret::new(api.base_url())),
            (
                "ANTHROPIC_API_KEY".to_owned(),
                Secret::new("sk-ant-test-not-a-real-key"),
            ),
            ("CLAUDE_CODE_MAX_RETRIES".to_owned(), Secret::new("0")),
            ("DISABLE_AUTOUPDATER".to_owned(), Secret::new("1")),
            // Transcripts and settings stay in the harness directory.
            (
                "CLAUDE_CONFIG_DIR".to_owned(),
                Secret::new(root.join("claude-config").display().to_string()),
            ),
            // The Bash tool snapshots a login shell first: with the service user's HOME it
            // would source that user's profile (here pyenv, which can spin for seconds).
            (
                "HOME".to_owned(),
                Secret::new(root.join("home").display().to_string()),
            ),
        ]);
        Self {
            runner: make_runner(binary, env),
            backend: Backend::RealCli { api },
            root,
        }
    }

    #[must_use]
    pub fn is_fake_cli(&self) -> bool {
        matches!(self.backend, Backend::FakeCli { .. })
    }

    /// Adds a scenario, chosen by its marker in the first user message.
    pub fn script(&self, script: Script) {
        match &self.backend {
            Backend::FakeCli { scripts, .. } => scripts.lock().unwrap().push(script),
            Backend::RealCli { api } => api.script(script),
        }
    }

    /// A spec for a new agent in a fresh working directory `name` (or the same directory again,
    /// for a resume).
    #[must_use]
    pub fn spec(&self, name: &str, options: AgentOptions) -> AgentSpec {
        let working_directory = self.workdir(name);
        std::fs::create_dir_all(&working_directory).expect("create workdir");
        let mut env = BTreeMap::new();
        if let Backend::FakeCli { log, scripts } = &self.backend {
            let scripts =
                serde_json::to_string(&*scripts.lock().unwrap()).expect("scripts as JSON");
            env.insert("FAKE_CLAUDE_SCRIPTS".to_owned(), Secret::new(scripts));
            env.insert(
                "FAKE_CLAUDE_LOG".to_owned(),
                Secret::new(log.display().to_string()),
            );
        }
        AgentSpec {
            working_directory,
            options,
            env,
            resume: None,
            fork: false,
            resume_at: None,
        }
    }

    #[must_use]
    pub fn workdir(&self, name: &str) -> PathBuf {
        self.root.join("work").join(name)
    }

    /// Every request body the model was sent for `marker` (the first user message holds it),
    /// in order.
    #[must_use]
    pub fn model_requests(&self, marker: &str) -> Vec<Value> {
        let bodies: Vec<Value> = match &self.backend {
            Backend::FakeCli { log, .. } => std::fs::read_to_string(log)
                .unwrap_or_default()
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect(),
            Backend::RealCli { api } => api.requests(),
        };
        bodies
            .into_iter()
            .filter(|body| {
                body.get("messages")
                    .and_then(Value::as_array)
                    .is_some_and(|messages| first_user_text(messages).contains(marker))
            })
            .collect()
    }

    /// Every conversation (its `messages`) the model was asked to answer for `marker`, in order.
    #[must_use]
    pub fn model_calls(&self, marker: &str) -> Vec<Vec<Value>> {
        self.model_requests(marker)
            .into_iter()
            .filter_map(|b| b.get("messages").and_then(Value::as_array).cloned())
            .collect()
    }

    /// Waits until `check` holds, polling; panics after `limit`.
    pub async fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + limit;
        while !check() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for AgentHarness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
