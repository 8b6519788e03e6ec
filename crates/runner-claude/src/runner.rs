//! Starting the CLI: command line, environment, process, and the initialize handshake.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use overseer_ports::agent::{
    AgentCallbacks, AgentError, AgentRunner, AgentSession, AgentSpec, Secret,
};
use serde_json::json;
use tokio::process::Command;
use tokio::sync::watch;

use crate::args::{LaunchExtras, build_args};
use crate::callbacks::hook_registration;
use crate::containment::Containment;
use crate::lookup::on_path;
use crate::process::{isolate, kill_group};
use crate::records::{MARK_VAR, ProcessRecords, kill_marked, new_mark};
use crate::sandbox::{Reach, Sandbox};
use crate::session::{ClaudeSession, Limits, Process};
use crate::transcript;

/// Environment variables a task's own `env` may not set: they choose where the service's API
/// key is sent.
const RESERVED_ENV_PREFIXES: &[&str] = &["ANTHROPIC_"];

/// Under [`ClaudeConfig::session_config_root`]: the seed's directory
/// ([`ClaudeRunner::seed_session_configs`]), and the CLI's state file it holds.
const SEED_DIR: &str = ".seed";
const STATE_FILE: &str = ".claude.json";
/// In the seed's directory: the version of the CLI that made it.
const SEED_MADE_BY: &str = ".overseer-made-by";

/// How to run the CLI. The defaults suit production; tests shorten the timeouts.
#[derive(Clone, Debug)]
pub struct ClaudeConfig {
    /// The `claude` executable (default: `claude` from `PATH`).
    pub binary: PathBuf,
    /// Environment from the service's configuration (API key, base URL …). Wins over a task's.
    pub env: BTreeMap<String, Secret>,
    /// From spawn to the reply to our `initialize`.
    pub startup_timeout: Duration,
    /// For each of our other control requests.
    pub control_timeout: Duration,
    /// How long `close` waits after EOF before killing the process group.
    pub close_grace: Duration,
    pub max_line_bytes: usize,
    pub stderr_tail_bytes: usize,
    /// Where started process groups are recorded, for [`ClaudeRunner::reap_orphans`].
    pub process_records: Option<ProcessRecords>,
    /// Variables of the service's own environment the agent also gets, besides the ones it
    /// needs to run ([`inherits`]). Everything else (database URL, signing secret …) is withheld.
    pub inherited_env: Vec<String>,
    /// Runs each agent inside bubblewrap namespaces; `None` runs it directly.
    pub sandbox: Option<Sandbox>,
    /// Without a sandbox: runs each agent in a PID namespace of its own, so its tools die with
    /// the service ([`Containment`]); `None` relies on death signals and start-up reaping.
    pub containment: Option<Containment>,
    /// Gives each agent its own CLI configuration directory (`CLAUDE_CONFIG_DIR`, also its
    /// `HOME`) under this root, named after its working directory, so that no agent reads
    /// another's transcripts or settings. `None` leaves the configured one.
    pub session_config_root: Option<PathBuf>,
}

/// Whether a variable of the service's environment reaches the agent without being named in
/// [`ClaudeConfig::inherited_env`]: what the CLI, Node and shell tools need to run (search
/// path, home, locale, time zone, temp dir, proxies and CA certificates) and the CLI's own
/// settings. Service settings and secrets (`DATABASE_URL`, `OVERSEER_*` …) do not.
#[must_use]
pub fn inherits(name: &str) -> bool {
    const NAMES: [&str; 20] = [
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TERM",
        "NODE_EXTRA_CA_CERTS",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "CLAUDE_CONFIG_DIR",
    ];
    const PREFIXES: [&str; 3] = ["LC_", "CLAUDE_CODE_", "XDG_"];
    NAMES.contains(&name) || PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

#[cfg(test)]
mod inherit_tests {
    use super::inherits;

    #[test]
    fn the_agent_keeps_what_it_runs_with_and_not_the_services_settings() {
        for kept in [
            "PATH",
            "HOME",
            "LC_ALL",
            "CLAUDE_CODE_MAX_RETRIES",
            "CLAUDE_CONFIG_DIR",
        ] {
            assert!(inherits(kept), "{kept}");
        }
        for withheld in [
            "DATABASE_URL",
            "OVERSEER_JWT_SECRET",
            "ANTHROPIC_API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "PATHX",
        ] {
            assert!(!inherits(withheld), "{withheld}");
        }
    }
}

impl Default for ClaudeConfig {
    fn default() -> Self {
        Self {
            binary: PathBuf::from("claude"),
            env: BTreeMap::new(),
            startup_timeout: Duration::from_secs(60),
            control_timeout: Duration::from_secs(30),
            close_grace: Duration::from_secs(5),
            max_line_bytes: 16 * 1024 * 1024,
            inherited_env: Vec::new(),
            sandbox: None,
            containment: None,
            session_config_root: None,
            stderr_tail_bytes: 8 * 1024,
            process_records: None,
        }
    }
}

/// Runs agents as Claude Code CLI processes.
#[derive(Clone, Debug, Default)]
pub struct ClaudeRunner {
    config: ClaudeConfig,
}

impl ClaudeRunner {
    #[must_use]
    pub fn new(config: ClaudeConfig) -> Self {
        Self { config }
    }

    /// Kills the agent process groups a previous instance of this node recorded and left
    /// behind (after a crash); returns how many. Call before any agent starts.
    #[must_use]
    pub fn reap_orphans(&self) -> usize {
        self.config
            .process_records
            .as_ref()
            .map_or(0, ProcessRecords::reap)
    }

    #[must_use]
    pub fn config(&self) -> &ClaudeConfig {
        &self.config
    }

    /// Where the CLI working in `working_directory` keeps its conversations: its own
    /// configuration directory, else the configured or inherited `CLAUDE_CONFIG_DIR`, else
    /// `~/.claude`.
    fn config_dir_for(&self, working_directory: &Path) -> Option<PathBuf> {
        self.session_config_dir(working_directory)
            .or_else(|| {
                self.config
                    .env
                    .get("CLAUDE_CONFIG_DIR")
                    .map(|dir| PathBuf::from(dir.expose()))
            })
            .or_else(|| {
                self.config
                    .env
                    .get("HOME")
                    .map(|home| Path::new(home.expose()).join(".claude"))
            })
            .or_else(|| std::env::var_os("CLAUDE_CONFIG_DIR").map(PathBuf::from))
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".claude")))
    }

    /// The file where the CLI working in `working_directory` keeps the conversation
    /// `agent_session_id`; `None` when there is no configuration directory or the id is not the
    /// CLI's own (a UUID: it becomes a file name).
    fn conversation_file(
        &self,
        working_directory: &Path,
        agent_session_id: &str,
    ) -> Option<PathBuf> {
        uuid::Uuid::parse_str(agent_session_id).ok()?;
        let config_dir = self.config_dir_for(working_directory)?;
        Some(transcript::path(
            &config_dir,
            working_directory,
            agent_session_id,
        ))
    }

    /// The agent's own configuration directory, if agents get one each.
    fn session_config_dir(&self, working_directory: &Path) -> Option<PathBuf> {
        let root = self.config.session_config_root.as_ref()?;
        Some(root.join(working_directory.file_name()?))
    }

    /// Makes the seed of every new agent configuration directory: the CLI's state file
    /// (`.claude.json`) as the CLI itself writes it on a first start (its migrations done, its
    /// install ids). Without a seed each agent's first start does that work again: ≈ 20 ms
    /// of every new session's start-up (`just bench runner`). The seed comes from one start of
    /// the configured CLI in an empty directory, with no conversation, so it holds nothing of
    /// any session. Call it once at start-up, after the CLI is checked, with the version the
    /// CLI reported: a seed that version made is kept as it is (no CLI is started), any other
    /// is replaced. Does nothing without [`ClaudeConfig::session_config_root`].
    ///
    /// # Errors
    /// What [`AgentRunner::start`] returns when the CLI cannot start; agents then start from
    /// empty directories, as they would without a seed.
    pub async fn seed_session_configs(&self, cli_version: &str) -> Result<(), AgentError> {
        let Some(root) = &self.config.session_config_root else {
            return Ok(());
        };
        // Its own configuration directory is itself (`session_config_dir`).
        let seed = root.join(SEED_DIR);
        let made_by = seed.join(SEED_MADE_BY);
        let kept = tokio::fs::read_to_string(&made_by)
            .await
            .is_ok_and(|made| made == cli_version);
        if kept
            && tokio::fs::try_exists(seed.join(STATE_FILE))
                .await
                .unwrap_or(false)
        {
            return Ok(());
        }
        match tokio::fs::remove_dir_all(&seed).await {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(AgentError::Spawn(format!(
                    "removing {}: {err}",
                    seed.display()
                )));
            }
        }
        let spec = AgentSpec {
            working_directory: seed.clone(),
            options: overseer_domain::AgentOptions::default(),
            env: BTreeMap::new(),
            resume: None,
            fork: false,
            resume_at: None,
        };
        tokio::fs::create_dir_all(&seed)
            .await
            .map_err(|e| AgentError::Spawn(format!("creating {}: {e}", seed.display())))?;
        let agent = self.start(spec, AgentCallbacks::default()).await?;
        // The CLI has written its state by the time it answers `initialize`; closing waits
        // for it to exit, so nothing is half-written when agents copy it.
        agent.close().await?;
        tokio::fs::write(&made_by, cli_version)
            .await
            .map_err(|e| AgentError::Spawn(format!("writing {}: {e}", made_by.display())))
    }

    /// Copies the seed's state file into `dir`, a new agent configuration directory (a missing
    /// seed leaves it empty).
    async fn seed_into(&self, dir: &Path) {
        let Some(root) = &self.config.session_config_root else {
            return;
        };
        let seed = root.join(SEED_DIR).join(STATE_FILE);
        match tokio::fs::copy(&seed, dir.join(STATE_FILE)).await {
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                tracing::warn!(seed = %seed.display(), error = %err, "cannot seed an agent's configuration");
            }
        }
    }

    /// The cost the CLI will carry over when it resumes `spec`'s conversation (0 for a new
    /// one, or when the transcript cannot be read: the CLI then has nothing to carry either).
    async fn carried_cost(&self, spec: &AgentSpec) -> f64 {
        let Some(file) = spec
            .resume
            .as_deref()
            .and_then(|id| self.conversation_file(&spec.working_directory, id))
        else {
            return 0.0;
        };
        match tokio::fs::read(&file).await {
            Ok(bytes) => transcript::carried_cost(&String::from_utf8_lossy(&bytes)),
            Err(_) => 0.0,
        }
    }

    fn command(
        &self,
        spec: &AgentSpec,
        callbacks: &AgentCallbacks,
        config_dir: Option<&Path>,
        carried_cost_usd: f64,
    ) -> Command {
        let extras = LaunchExtras {
            permission_prompts: callbacks.permissions.is_some(),
            sdk_servers: callbacks.mcp_servers.keys().collect(),
            resume: spec.resume.as_deref(),
            fork: spec.fork,
            resume_at: spec.resume_at.as_deref(),
            carried_cost_usd,
        };
        let mut command = match &self.config.sandbox {
            Some(sandbox) => {
                let binary = on_path(&self.config.binary);
                let mut command = Command::new(&sandbox.bwrap);
                command.args(
                    sandbox.args(&Reach {
                        binary: &binary,
                        working_directory: &spec.working_directory,
                        config_dir,
                        extra_dirs: spec
                            .options
                            .add_dirs
                            .iter()
                            .map(|dir| Path::new(dir.as_str()))
                            .collect(),
                    }),
                );
                command.arg(binary);
                command
            }
            None => match &self.config.containment {
                Some(containment) => {
                    let mut command = Command::new(containment.program());
                    command
                        .args(containment.args())
                        .arg(on_path(&self.config.binary));
                    command
                }
                None => Command::new(&self.config.binary),
            },
        };
        // The agent's tools run with its environment: start from nothing, not the service's.
        command.env_clear();
        for (name, value) in std::env::vars_os() {
            let keep = name.to_str().is_some_and(|name| {
                inherits(name) || self.config.inherited_env.iter().any(|extra| extra == name)
            });
            if keep {
                command.env(name, value);
            }
        }
        command
            .args(build_args(&spec.options, &extras))
            .current_dir(&spec.working_directory)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("DISABLE_TELEMETRY", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
        for (name, value) in &spec.options.env {
            if RESERVED_ENV_PREFIXES
                .iter()
                .any(|p| name.as_str().starts_with(p))
            {
                tracing::warn!(
                    variable = name.as_str(),
                    "ignoring a reserved variable in the task's env"
                );
                continue;
            }
            command.env(name.as_str(), value.as_str());
        }
        if let Some(max_tokens) = spec.options.max_tokens {
            command.env("CLAUDE_CODE_MAX_OUTPUT_TOKENS", max_tokens.to_string());
        }
        for (name, value) in self.config.env.iter().chain(&spec.env) {
            command.env(name, value.expose());
        }
        if let Some(dir) = config_dir {
            command.env("CLAUDE_CONFIG_DIR", dir).env("HOME", dir);
        }
        isolate(&mut command);
        command
    }

    fn limits(&self) -> Limits {
        Limits {
            control_timeout: self.config.control_timeout,
            close_grace: self.config.close_grace,
            max_line_bytes: self.config.max_line_bytes,
            stderr_tail_bytes: self.config.stderr_tail_bytes,
        }
    }
}

#[async_trait]
impl AgentRunner for ClaudeRunner {
    #[tracing::instrument(skip_all, fields(cwd = %spec.working_directory.display(), resume = spec.resume.is_some()))]
    async fn start(
        &self,
        spec: AgentSpec,
        callbacks: AgentCallbacks,
    ) -> Result<Arc<dyn AgentSession>, AgentError> {
        let mark = new_mark();
        let config_dir = self.session_config_dir(&spec.working_directory);
        if let Some(dir) = &config_dir {
            let new = !tokio::fs::try_exists(dir).await.unwrap_or(true);
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| AgentError::Spawn(format!("creating {}: {e}", dir.display())))?;
            if new {
                self.seed_into(dir).await;
            }
        }
        let carried_cost_usd = self.carried_cost(&spec).await;
        let mut command = self.command(&spec, &callbacks, config_dir.as_deref(), carried_cost_usd);
        command.env(MARK_VAR, &mark);
        let mut child = command
            .spawn()
            .map_err(|e| AgentError::Spawn(format!("{}: {e}", self.config.binary.display())))?;
        let pid = child
            .id()
            .ok_or_else(|| AgentError::Spawn("the process exited at once".to_owned()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(AgentError::Spawn("the process has no pipes".to_owned()));
        };
        let records = self.config.process_records.clone();
        if let Some(records) = &records
            && let Err(err) = records.record(pid, &mark)
        {
            tracing::warn!(pid, error = %err, "cannot record the agent process");
        }
        let (exit_tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let code = child.wait().await.ok().and_then(|status| status.code());
            // Tools the CLI left behind (in its group, or in sessions of their own) end with it.
            kill_group(pid);
            kill_marked(&mark);
            if let Some(records) = records {
                records.forget(pid);
            }
            let _ = exit_tx.send(Some(code));
        });
        let hooks = hook_registration(&callbacks);
        let session = ClaudeSession::attach(
            Process {
                pid,
                stdin,
                stdout,
                stderr,
                exit,
            },
            callbacks,
            self.limits(),
            carried_cost_usd,
        );
        let initialize = json!({"subtype": "initialize", "hooks": hooks});
        match session
            .control(initialize, self.config.startup_timeout)
            .await
        {
            Ok(_) => Ok(Arc::new(session)),
            Err(AgentError::Closed) => {
                let (exit_code, stderr_tail) = session.exit_report().await;
                Err(AgentError::Exited {
                    exit_code,
                    stderr_tail,
                })
            }
            Err(err) => {
                session.kill();
                Err(err)
            }
        }
    }

    async fn transcript(
        &self,
        working_directory: &Path,
        agent_session_id: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, AgentError> {
        let missing = || AgentError::InvalidRequest("no transcript for this session".to_owned());
        let file = self
            .conversation_file(working_directory, agent_session_id)
            .ok_or_else(missing)?;
        let bytes = tokio::fs::read(&file).await.map_err(|_| missing())?;
        let start = bytes.len().saturating_sub(max_bytes);
        Ok(bytes[start..].to_vec())
    }

    async fn copy_conversation(
        &self,
        from: &Path,
        to: &Path,
        agent_session_id: &str,
    ) -> Result<(), AgentError> {
        let missing = || AgentError::InvalidRequest("no conversation to copy".to_owned());
        let (Some(source), Some(target)) = (
            self.conversation_file(from, agent_session_id),
            self.conversation_file(to, agent_session_id),
        ) else {
            return Err(missing());
        };
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|err| AgentError::Spawn(format!("cannot prepare the copy: {err}")))?;
        }
        tokio::fs::copy(&source, &target)
            .await
            .map_err(|_| missing())?;
        Ok(())
    }
}
