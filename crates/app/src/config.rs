//! Settings, with the embedded defaults: SQLite under `./data`, listening on 127.0.0.1:8080.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use overseer_domain::Quota;
use overseer_ports::agent::Secret;
use overseer_services::PoolConfig;
use overseer_tools::ToolsConfig;

/// Where the service keeps its state, how it is reached, and how it runs agents.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Holds the SQLite database (when no URL is given), working directories, reports and the
    /// generated JWT secret.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite:…`; `None` means SQLite at `<data_dir>/overseer.db`.
    pub database_url: Option<DatabaseUrl>,
    pub bind: SocketAddr,
    /// Signs tokens; `None` means the secret kept in `<data_dir>/jwt-secret` (created once).
    pub jwt_secret: Option<Secret>,
    /// When false, accounts are created only with `overseer user create`.
    pub registration_open: bool,
    /// The Claude Code CLI (default: `claude` from `PATH`).
    pub claude_binary: PathBuf,
    /// Passed to the agent's environment only (never logged): API key, base URL.
    pub agent_env: Vec<(String, Secret)>,
    /// Where traces are exported (OTLP/HTTP); when set, agents also get `TRACEPARENT`.
    pub otlp_endpoint: Option<String>,
    /// Live agent processes at most (one is about 310 MB), warm agents included.
    pub max_live_agents: usize,
    /// An agent with no turn in progress for this long hibernates (closed; resumed on the
    /// session's next message).
    pub agent_idle_timeout: std::time::Duration,
    /// How long a start may wait for an agent slot while every live agent is mid-turn.
    pub agent_start_timeout: std::time::Duration,
    /// Executions this node runs at once.
    pub max_concurrent_executions: usize,
    /// Executions running at once over every node.
    pub max_running_total: u32,
    /// Executions running at once per user, over every node.
    pub max_running_per_user: u32,
    /// On shutdown, how long running executions may take to finish before their agents stop.
    pub shutdown_grace: std::time::Duration,
    /// How long an execution may run when its task sets no timeout.
    pub execution_timeout: std::time::Duration,
    /// How long a running execution's lease lasts without a heartbeat.
    pub lease: std::time::Duration,
    /// Quota limits for users without their own.
    pub default_quota: Quota,
    /// Login attempts, and registrations, per client address per minute.
    pub auth_attempts_per_minute: std::num::NonZeroU32,
    /// Variables of the service's environment passed on to agents, besides what the CLI needs
    /// to run; every other one (database URL, secrets) is withheld from them.
    pub agent_env_passthrough: Vec<String>,
    /// CLIs kept started ahead of demand for the option sets asked for most recently (0: off).
    /// Each holds ≈ 200 MiB and saves a new session ≈ 350 ms (docs/benchmarks.md).
    pub warm_agents: usize,
    /// An option set no run asked for within this time stops being kept warm.
    pub warm_agent_max_age: std::time::Duration,
    /// Interactive sessions a user may have open (not yet ended) at once.
    pub max_open_sessions_per_user: u32,
    /// Whether agents run inside bubblewrap namespaces.
    pub agent_sandbox: SandboxMode,
    /// Paths agents must not read besides the data directory (the configuration file is added
    /// when there is one): secrets an operator keeps elsewhere, e.g. `~/.ssh`.
    pub agent_hidden_paths: Vec<PathBuf>,
    /// Directories under which tasks and sessions may grant their agent extra directories
    /// (`add_dirs`); none by default, so no task may.
    pub agent_dir_roots: Vec<PathBuf>,
    /// The built-in tool servers' settings (`[tools]` in the configuration file only: named
    /// database connections, monitoring targets, kubeconfigs).
    pub tools: ToolsConfig,
}

/// Whether agents run sandboxed (bubblewrap).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// Sandboxed where `bwrap` is installed and works; otherwise unsandboxed, with a warning.
    #[default]
    Auto,
    /// Always sandboxed: the service does not start without a working `bwrap`.
    On,
    /// Never sandboxed.
    Off,
}

impl Settings {
    pub const DEFAULT_DATA_DIR: &'static str = "./data";
    pub const DEFAULT_BIND: &'static str = "127.0.0.1:8080";
    pub const DEFAULT_AUTH_ATTEMPTS_PER_MINUTE: std::num::NonZeroU32 =
        std::num::NonZeroU32::new(20).expect("20 is not zero");

    /// The database to open: the configured URL, or the embedded SQLite file.
    #[must_use]
    pub fn effective_database_url(&self) -> DatabaseUrl {
        self.database_url
            .clone()
            .unwrap_or_else(|| DatabaseUrl::sqlite_file(&self.data_dir.join("overseer.db")))
    }

    /// The agent environment taken from this process's own: `ANTHROPIC_API_KEY`,
    /// `ANTHROPIC_BASE_URL` (and `ANTHROPIC_AUTH_TOKEN`) when set.
    #[must_use]
    pub fn agent_env_from_process() -> Vec<(String, Secret)> {
        [
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "ANTHROPIC_AUTH_TOKEN",
        ]
        .into_iter()
        .filter_map(|name| {
            std::env::var(name)
                .ok()
                .map(|value| (name.to_owned(), Secret::new(value)))
        })
        .collect()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(Self::DEFAULT_DATA_DIR),
            database_url: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            jwt_secret: None,
            registration_open: true,
            claude_binary: PathBuf::from("claude"),
            agent_env: Vec::new(),
            otlp_endpoint: None,
            max_live_agents: PoolConfig::DEFAULT_MAX_LIVE,
            agent_idle_timeout: PoolConfig::DEFAULT_IDLE_TIMEOUT,
            agent_start_timeout: PoolConfig::DEFAULT_START_TIMEOUT,
            max_concurrent_executions: 4,
            max_running_total: 8,
            max_running_per_user: 4,
            shutdown_grace: std::time::Duration::from_secs(30),
            execution_timeout: std::time::Duration::from_secs(30 * 60),
            lease: std::time::Duration::from_secs(30),
            default_quota: Quota::default(),
            auth_attempts_per_minute: Self::DEFAULT_AUTH_ATTEMPTS_PER_MINUTE,
            agent_env_passthrough: Vec::new(),
            warm_agents: 0,
            warm_agent_max_age: std::time::Duration::from_secs(600),
            max_open_sessions_per_user: 20,
            agent_sandbox: SandboxMode::Auto,
            agent_hidden_paths: Vec::new(),
            agent_dir_roots: Vec::new(),
            tools: ToolsConfig::default(),
        }
    }
}

/// A database URL. It may hold a password, so `Debug` and `Display` mask it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    #[must_use]
    pub fn sqlite_file(path: &Path) -> Self {
        Self(format!("sqlite://{}", path.display()))
    }

    /// The URL itself, for the driver only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    #[must_use]
    pub fn redacted(&self) -> String {
        let Some(scheme_end) = self.0.find("://").map(|i| i + 3) else {
            return self.0.clone();
        };
        let rest = &self.0[scheme_end..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => match rest[..at].find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &self.0[..scheme_end],
                    &rest[..colon],
                    &rest[at..]
                ),
                None => self.0.clone(),
            },
            None => self.0.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url =
            DatabaseUrl::new("postgres://app:s3cret@db.internal:5432/overseer?sslmode=require");
        assert_eq!(
            url.redacted(),
            "postgres://app:***@db.internal:5432/overseer?sslmode=require"
        );
        assert!(!format!("{url:?} {url}").contains("s3cret"));
        assert_eq!(
            DatabaseUrl::new("postgres://postgres@h/db").redacted(),
            "postgres://postgres@h/db"
        );
        assert_eq!(
            DatabaseUrl::new("sqlite::memory:").redacted(),
            "sqlite::memory:"
        );
    }

    #[test]
    fn default_is_sqlite_in_the_data_dir() {
        let settings = Settings::default();
        assert_eq!(
            settings.effective_database_url().expose(),
            "sqlite://./data/overseer.db"
        );
        assert_eq!(settings.bind.to_string(), Settings::DEFAULT_BIND);
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let settings = Settings {
            jwt_secret: Some(Secret::new("jwt-very-secret")),
            agent_env: vec![(
                "ANTHROPIC_API_KEY".into(),
                Secret::new("sk-ant-very-secret"),
            )],
            ..Settings::default()
        };
        let printed = format!("{settings:?}");
        assert!(!printed.contains("very-secret"), "{printed}");
    }
}

/// The `overseer.toml` layer: every key optional; unknown keys are an error (a typo should not
/// silently keep a default).
#[derive(Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub bind: Option<SocketAddr>,
    pub jwt_secret: Option<String>,
    pub registration_open: Option<bool>,
    pub claude_binary: Option<PathBuf>,
    pub max_live_agents: Option<usize>,
    pub agent_idle_timeout_seconds: Option<u64>,
    pub agent_start_timeout_seconds: Option<u64>,
    pub max_concurrent_executions: Option<usize>,
    pub max_running_total: Option<u32>,
    pub max_running_per_user: Option<u32>,
    pub shutdown_grace_seconds: Option<u64>,
    pub execution_timeout_seconds: Option<u64>,
    pub lease_seconds: Option<u64>,
    pub default_max_active_runs: Option<u32>,
    pub default_max_daily_cost_usd: Option<f64>,
    pub auth_attempts_per_minute: Option<std::num::NonZeroU32>,
    pub agent_env_passthrough: Option<Vec<String>>,
    pub warm_agents: Option<usize>,
    pub warm_agent_max_age_seconds: Option<u64>,
    pub max_open_sessions_per_user: Option<u32>,
    pub agent_sandbox: Option<SandboxMode>,
    pub agent_hidden_paths: Option<Vec<PathBuf>>,
    pub agent_dir_roots: Option<Vec<PathBuf>>,
    pub tools: Option<ToolsConfig>,
}

impl fmt::Debug for FileSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSettings")
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self
                    .database_url
                    .as_ref()
                    .map(|u| DatabaseUrl::new(u.clone())),
            )
            .field("bind", &self.bind)
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// Why the configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{name}: {reason}")]
    Setting { name: &'static str, reason: String },
}

impl FileSettings {
    /// Reads `path`; a missing file is an empty layer unless `required`.
    ///
    /// # Errors
    /// [`ConfigError`] for an unreadable or invalid file.
    pub fn load(path: &Path, required: bool) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Self::default());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        // toml's message quotes the offending line, which could be the secret: keep the key only.
        toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            reason: e.message().to_owned(),
        })
    }
}

/// One setting from the layers: a value set on the command line or in the environment wins,
/// then the file's, then the default.
pub fn layered<T>(explicit: bool, command_line: T, file: Option<T>) -> T {
    if explicit {
        command_line
    } else {
        file.unwrap_or(command_line)
    }
}

#[cfg(test)]
mod layer_tests {
    use super::*;

    #[test]
    fn environment_beats_file_beats_default() {
        assert_eq!(
            layered(false, 4, Some(8)),
            8,
            "the file overrides a default"
        );
        assert_eq!(
            layered(true, 6, Some(8)),
            6,
            "the environment or a flag overrides the file"
        );
        assert_eq!(layered(false, 4, None), 4);
    }

    #[test]
    fn file_parsing_rejects_unknown_keys_and_never_echoes_values() {
        let dir = std::env::temp_dir().join(format!("overseer-config-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("overseer.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9000\"\nmax_live_agents = 2\njwt_secret = \"file-secret-value\"\n",
        )
        .unwrap();
        let file = FileSettings::load(&path, true).unwrap();
        assert_eq!(file.bind, Some("127.0.0.1:9000".parse().unwrap()));
        assert!(!format!("{file:?}").contains("file-secret-value"));
        std::fs::write(&path, "jwt_secret = \"leak-me\"\nbnid = 1\n").unwrap();
        let err = FileSettings::load(&path, true).unwrap_err().to_string();
        assert!(err.contains("bnid") && !err.contains("leak-me"), "{err}");
        assert!(FileSettings::load(&dir.join("missing.toml"), false).is_ok());
        assert!(FileSettings::load(&dir.join("missing.toml"), true).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
