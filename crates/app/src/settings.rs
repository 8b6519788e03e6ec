//! The settings tree: every setting declared once, here, with its one default, its flag, its
//! environment variable and its key in the TOML file (the field's name).
//!
//! [`Settings`] derives both `clap::Args` (flags and environment, defaults in `#[arg]`) and
//! serde (the file). [`Settings::layered`] puts the layers together: a value given on the
//! command line or in the environment wins, then the file's, then the default. The README's
//! table is generated from the same declaration ([`crate::settings_table`]) and checked by a
//! test, so it cannot drift.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, FromArgMatches};
use overseer_domain::{Quota, UsdBudget};
use overseer_ports::agent::Secret;
use overseer_services::QueueConfig;
use overseer_services::{PoolConfig, ServicesConfig, WarmPoolConfig};
use overseer_tools::ToolsConfig;
use serde::Deserialize;

use crate::logging::LogFormat;
use overseer::{ClaudeAgents, DatabaseUrl, HttpOptions, OverseerBuilder};

// The doc comment is for rustdoc only: clap would take it for the program's `--help` text.
#[cfg_attr(
    doc,
    doc = "Where the service keeps its state, how it is reached, and how it runs agents.\n\n\
           `Debug` never shows a secret. [`Settings::default`] is every declared default (the \
           environment is not read)."
)]
#[derive(Clone, Debug, Args, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the embedded database, working directories, reports and the generated JWT secret
    /// live.
    #[arg(
        long,
        env = "OVERSEER_DATA_DIR",
        default_value = OverseerBuilder::DEFAULT_DATA_DIR,
        global = true
    )]
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite:…`. Unset: SQLite at `<data_dir>/overseer.db`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<DatabaseUrl>,
    /// Address to listen on.
    #[arg(
        long,
        env = "OVERSEER_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,
    /// Signs access tokens. Unset: a secret generated once into `<data_dir>/jwt-secret`
    /// (mode 0600).
    #[arg(
        long,
        env = "OVERSEER_JWT_SECRET",
        hide_env_values = true,
        value_parser = parse_secret,
        global = true
    )]
    #[serde(default, with = "secret_setting")]
    pub jwt_secret: Option<Secret>,
    /// Self-service registration; the flag turns it off (`overseer user create` still works).
    #[arg(
        long = "disable-registration",
        env = "OVERSEER_DISABLE_REGISTRATION",
        action = ArgAction::SetFalse,
        global = true
    )]
    pub registration_open: bool,
    /// The Claude Code CLI: a path is taken as given; a bare name is looked up on `PATH`, then
    /// as `./node_modules/.bin/claude`.
    #[arg(
        long,
        env = "OVERSEER_CLAUDE_BINARY",
        default_value = ClaudeAgents::DEFAULT_BINARY,
        global = true
    )]
    pub claude_binary: PathBuf,
    /// Live agent processes at most (≈ 310 MB each), warm agents included. A session needing
    /// one when all are held closes the least recently used idle agent (its session hibernates
    /// and resumes on its next message).
    #[arg(long, env = "OVERSEER_MAX_LIVE_AGENTS", default_value_t = PoolConfig::DEFAULT_MAX_LIVE, global = true)]
    pub max_live_agents: usize,
    /// Seconds an agent may sit with no turn in progress before it hibernates (its process
    /// ends; the session's next message resumes the conversation).
    #[arg(
        long,
        env = "OVERSEER_AGENT_IDLE_TIMEOUT_SECONDS",
        default_value_t = PoolConfig::DEFAULT_IDLE_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub agent_idle_timeout_seconds: u64,
    /// Seconds a start may wait for an agent slot while every live agent is mid-turn; then the
    /// turn fails naming `agent_start_timeout_seconds` (a 503 `agent-capacity` problem where
    /// one is answered).
    #[arg(
        long,
        env = "OVERSEER_AGENT_START_TIMEOUT_SECONDS",
        default_value_t = PoolConfig::DEFAULT_START_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub agent_start_timeout_seconds: u64,
    /// Executions running at once on this node.
    #[arg(
        long,
        env = "OVERSEER_MAX_CONCURRENT_EXECUTIONS",
        default_value_t = QueueConfig::DEFAULT_NODE_SLOTS,
        global = true
    )]
    pub max_concurrent_executions: usize,
    /// Executions running at once over every node sharing the database.
    #[arg(
        long,
        env = "OVERSEER_MAX_RUNNING_TOTAL",
        default_value_t = QueueConfig::DEFAULT_MAX_RUNNING_TOTAL,
        global = true
    )]
    pub max_running_total: u32,
    /// Executions running at once per user, over every node.
    #[arg(
        long,
        env = "OVERSEER_MAX_RUNNING_PER_USER",
        default_value_t = QueueConfig::DEFAULT_MAX_RUNNING_PER_USER,
        global = true
    )]
    pub max_running_per_user: u32,
    /// Seconds an execution may run when its task sets no `timeout_seconds`.
    #[arg(
        long,
        env = "OVERSEER_EXECUTION_TIMEOUT_SECONDS",
        default_value_t = ServicesConfig::DEFAULT_EXECUTION_TIMEOUT.as_secs(),
        global = true
    )]
    pub execution_timeout_seconds: u64,
    /// Interactive sessions a user may have open (not yet terminated) at once; one more is a
    /// 429 problem with `limit: max_open_sessions` (task runs are bounded by the runs quota).
    #[arg(
        long,
        env = "OVERSEER_MAX_OPEN_SESSIONS_PER_USER",
        default_value_t = ServicesConfig::DEFAULT_MAX_OPEN_SESSIONS,
        global = true
    )]
    pub max_open_sessions_per_user: u32,
    /// Login attempts, and registrations, allowed per client address per minute (a 429 with
    /// `Retry-After` beyond).
    #[arg(
        long,
        env = "OVERSEER_AUTH_ATTEMPTS_PER_MINUTE",
        default_value_t = HttpOptions::DEFAULT_AUTH_ATTEMPTS_PER_MINUTE,
        global = true
    )]
    pub auth_attempts_per_minute: NonZeroU32,
    /// Variables of this process's environment also passed to agents (comma-separated). By
    /// default they get only what the CLI needs to run (`PATH`, `HOME`, locale, proxies,
    /// `CLAUDE_CODE_*` …), never `DATABASE_URL` or `OVERSEER_*`.
    #[arg(
        long,
        env = "OVERSEER_AGENT_ENV_PASSTHROUGH",
        value_delimiter = ',',
        global = true
    )]
    #[serde(default)]
    pub agent_env_passthrough: Vec<String>,
    /// CLIs kept started ahead of demand for the option sets asked for most recently, so a new
    /// session's first turn skips the CLI's start (≈ 350 ms). Each holds ≈ 200 MiB and one of
    /// the `max_live_agents` slots: warm agents start only into a free slot and are the first
    /// closed when a session needs one. 0 turns the pool off.
    #[arg(long, env = "OVERSEER_WARM_AGENTS", default_value_t = 0, global = true)]
    pub warm_agents: usize,
    /// Seconds an option set stays warm after the last run that asked for it.
    #[arg(
        long,
        env = "OVERSEER_WARM_AGENT_MAX_AGE_SECONDS",
        default_value_t = WarmPoolConfig::DEFAULT_MAX_AGE.as_secs(),
        global = true
    )]
    pub warm_agent_max_age_seconds: u64,
    /// Run agents inside bubblewrap namespaces: `auto` where `bwrap` works, `on` (agents do not
    /// run without it) or `off`. Sandboxed agents see the machine read-only, their own
    /// session's directory read-write, and nothing of the data directory or the service.
    #[arg(
        long,
        env = "OVERSEER_AGENT_SANDBOX",
        value_enum,
        default_value_t = SandboxMode::Auto,
        global = true
    )]
    pub agent_sandbox: SandboxMode,
    /// More paths sandboxed agents must not read (comma-separated), e.g. `~/.ssh`; the data
    /// directory and the configuration file always are.
    #[arg(
        long,
        env = "OVERSEER_AGENT_HIDDEN_PATHS",
        value_delimiter = ',',
        global = true
    )]
    #[serde(default)]
    pub agent_hidden_paths: Vec<PathBuf>,
    /// Directories (comma-separated) inside which tasks and sessions may grant agents extra
    /// directories (`add_dirs`) and plugins (`plugins`); one elsewhere is a 422 on that field.
    /// None by default, so no task may.
    #[arg(
        long,
        env = "OVERSEER_AGENT_DIR_ROOTS",
        value_delimiter = ',',
        global = true
    )]
    #[serde(default)]
    pub agent_dir_roots: Vec<PathBuf>,
    /// Log lines as `auto` (text, coloured only when stdout is a terminal, never in a file or
    /// pipe), `text` or `json` (one object per line, with the current span). `RUST_LOG`
    /// filters (default `info`).
    #[arg(
        long,
        env = "OVERSEER_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Auto,
        global = true
    )]
    pub log_format: LogFormat,
    /// Where people reach this server, e.g. `https://overseer.example.com`: the base of the
    /// one-tap approve/deny links in notifications. Default `http://<bind address>`.
    #[arg(long, env = "OVERSEER_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Export traces to this OTLP/HTTP collector, e.g. `http://127.0.0.1:4318`: one trace per
    /// execution (request → queue → agent start → turns → tool calls → approval waits, with
    /// OpenTelemetry GenAI attributes); agents then get `TRACEPARENT`. Off when unset.
    #[arg(long, env = "OVERSEER_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
    /// On shutdown, seconds running executions may take to finish before agents stop.
    #[arg(
        long,
        env = "OVERSEER_SHUTDOWN_GRACE_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub shutdown_grace_seconds: u64,
    /// Seconds a running execution's lease lasts without a heartbeat: how soon another node
    /// settles the runs of a node that died.
    #[arg(
        long,
        env = "OVERSEER_LEASE_SECONDS",
        default_value_t = QueueConfig::DEFAULT_LEASE.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub lease_seconds: u64,
    /// Quota for users without their own: executions pending or running at once. Unset:
    /// unlimited.
    #[arg(long, env = "OVERSEER_DEFAULT_MAX_ACTIVE_RUNS", global = true)]
    pub default_max_active_runs: Option<u32>,
    /// Quota for users without their own: agent cost per UTC day in USD. Unset: unlimited.
    #[arg(long, env = "OVERSEER_DEFAULT_MAX_DAILY_COST_USD", global = true)]
    pub default_max_daily_cost_usd: Option<f64>,
    /// Quota for users without their own: agent cost per UTC month in USD. Unset: unlimited.
    #[arg(long, env = "OVERSEER_DEFAULT_MAX_MONTHLY_COST_USD", global = true)]
    pub default_max_monthly_cost_usd: Option<f64>,
    /// For users without their own: the cost in USD at which a session pauses on an approval
    /// "continue past $X?" instead of going on. Unset: sessions never ask.
    #[arg(long, env = "OVERSEER_DEFAULT_ASK_ABOVE_USD", global = true)]
    pub default_ask_above_usd: Option<f64>,
    /// Passed to the agent's environment only (never logged): `ANTHROPIC_API_KEY`,
    /// `ANTHROPIC_BASE_URL`, `ANTHROPIC_AUTH_TOKEN` from this process's environment.
    #[arg(skip)]
    #[serde(skip)]
    pub agent_env: Vec<(String, Secret)>,
    /// The built-in tool servers' settings: the `[tools]` table of the file only (named
    /// database connections, monitoring targets, kubeconfigs).
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    pub tools: ToolsConfig,
}

/// Whether agents run sandboxed (bubblewrap).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Deserialize,
    serde::Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// Sandboxed where `bwrap` is installed and works; otherwise unsandboxed, with a warning.
    #[default]
    Auto,
    /// Always sandboxed: agents do not run without a working `bwrap`.
    On,
    /// Never sandboxed.
    Off,
}

/// Why the settings could not be used.
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

impl Default for Settings {
    fn default() -> Self {
        let command = Self::augment_args(clap::Command::new("overseer"))
            .mut_args(|arg| arg.env(None::<&'static str>));
        let matches = command.get_matches_from(["overseer"]);
        match Self::from_arg_matches(&matches) {
            Ok(settings) => settings,
            // Every field has a default or is optional: this is a mistake in the declaration.
            Err(err) => unreachable!("the declared defaults do not parse: {err}"),
        }
    }
}

impl Settings {
    /// Settings from the layers: the command line and environment (`matches`, already parsed
    /// into `self`), then the TOML file at `config`, then the declared defaults. A missing
    /// file is an empty layer unless `config_required`. The agent environment is taken from
    /// this process's own; the file is added to the paths agents must not read.
    ///
    /// # Errors
    /// [`ConfigError`] for an unreadable file, an unknown key, a value of the wrong type, or a
    /// setting out of range. Messages name the key, never a value (it could be a secret).
    pub fn layered(
        self,
        matches: &ArgMatches,
        config: &Path,
        config_required: bool,
    ) -> Result<Self, ConfigError> {
        let file = read_file(config, config_required)?;
        // The declared settings' names (a flag's id is its field's name).
        let declared: std::collections::HashSet<String> =
            Self::augment_args(clap::Command::new("overseer"))
                .get_arguments()
                .map(|arg| arg.get_id().to_string())
                .collect();
        let explicit = |key: &str| {
            declared.contains(key)
                && matches!(
                    matches.value_source(key),
                    Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                )
        };
        let invalid = |reason: String| ConfigError::Invalid {
            path: config.to_path_buf(),
            reason,
        };
        let base = match toml::Value::try_from(&self) {
            Ok(toml::Value::Table(table)) => table,
            Ok(_) => return Err(invalid("the settings are not a table".to_owned())),
            Err(err) => return Err(invalid(err.to_string())),
        };
        let mut merged = base.clone();
        for (key, value) in &file {
            if !explicit(key) {
                merged.insert(key.clone(), value.clone());
            }
        }
        let mut settings = match Self::deserialize(toml::Value::Table(merged)) {
            Ok(settings) => settings,
            Err(err) => {
                // Name the key: the first one that does not fit on its own.
                let key = file.iter().find(|(key, value)| {
                    let mut one = base.clone();
                    one.insert((*key).clone(), (*value).clone());
                    Self::deserialize(toml::Value::Table(one)).is_err()
                });
                return Err(invalid(match key {
                    Some((key, _)) if declared.contains(key.as_str()) => {
                        format!("{key}: {}", redacted_reason(&err))
                    }
                    _ => err.message().to_owned(),
                }));
            }
        };
        settings.agent_env = overseer::anthropic_env_from_process();
        // The configuration file may hold the JWT secret or the database password.
        if let Ok(file) = std::fs::canonicalize(config) {
            settings.agent_hidden_paths.push(file);
        }
        settings.default_quota()?;
        Ok(settings)
    }

    /// The database to open: the configured URL, or the embedded SQLite file.
    #[must_use]
    pub fn effective_database_url(&self) -> DatabaseUrl {
        self.database_url
            .clone()
            .unwrap_or_else(|| DatabaseUrl::sqlite_file(&self.data_dir.join("overseer.db")))
    }

    /// The quota of users without their own.
    ///
    /// # Errors
    /// [`ConfigError::Setting`] for a cost that is not a budget (not above 0, not finite).
    pub fn default_quota(&self) -> Result<Quota, ConfigError> {
        let usd = |value: Option<f64>, name: &'static str| {
            value
                .map(UsdBudget::new)
                .transpose()
                .map_err(|e| ConfigError::Setting {
                    name,
                    reason: e.reason,
                })
        };
        Ok(Quota {
            max_active_runs: self.default_max_active_runs,
            max_daily_cost_usd: usd(
                self.default_max_daily_cost_usd,
                "default_max_daily_cost_usd",
            )?,
            max_monthly_cost_usd: usd(
                self.default_max_monthly_cost_usd,
                "default_max_monthly_cost_usd",
            )?,
            ask_above_usd: usd(self.default_ask_above_usd, "default_ask_above_usd")?,
        })
    }

    /// [`Settings::agent_idle_timeout_seconds`] as a duration.
    #[must_use]
    pub fn agent_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.agent_idle_timeout_seconds)
    }

    /// [`Settings::agent_start_timeout_seconds`] as a duration.
    #[must_use]
    pub fn agent_start_timeout(&self) -> Duration {
        Duration::from_secs(self.agent_start_timeout_seconds)
    }

    /// [`Settings::execution_timeout_seconds`] as a duration.
    #[must_use]
    pub fn execution_timeout(&self) -> Duration {
        Duration::from_secs(self.execution_timeout_seconds)
    }

    /// [`Settings::public_url`], or `http://<address>` (the address the server bound).
    ///
    /// # Errors
    /// [`ConfigError::Setting`] for a public URL that is not an http(s) URL.
    pub fn public_url_or(&self, address: std::net::SocketAddr) -> Result<String, ConfigError> {
        match &self.public_url {
            Some(url) => overseer_domain::HttpUrl::new(url.trim_end_matches('/'))
                .map(|url| url.as_str().to_owned())
                .map_err(|e| ConfigError::Setting {
                    name: "public_url",
                    reason: e.reason,
                }),
            None => Ok(format!("http://{address}")),
        }
    }

    /// [`Settings::shutdown_grace_seconds`] as a duration.
    #[must_use]
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_seconds)
    }

    /// [`Settings::lease_seconds`] as a duration.
    #[must_use]
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds)
    }

    /// [`Settings::warm_agent_max_age_seconds`] as a duration.
    #[must_use]
    pub fn warm_agent_max_age(&self) -> Duration {
        Duration::from_secs(self.warm_agent_max_age_seconds)
    }
}

/// The file as a table; a missing file is empty unless `required`.
fn read_file(path: &Path, required: bool) -> Result<toml::Table, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(toml::Table::new());
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    // toml's full message quotes the offending line, which could be the secret: keep the
    // message only.
    toml::from_str(&text).map_err(|e| ConfigError::Invalid {
        path: path.to_path_buf(),
        reason: e.message().to_owned(),
    })
}

/// A deserialization error without the value that caused it (serde quotes it: "invalid type:
/// string \"…\", expected …").
fn redacted_reason(err: &toml::de::Error) -> String {
    let message = err.message();
    match message.split_once(", expected ") {
        Some((_, expected)) => format!("expected {expected}"),
        None => message.to_owned(),
    }
}

fn parse_secret(value: &str) -> Result<Secret, String> {
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(Secret::new(value))
}

/// (De)serializes an optional [`Secret`] as a plain string: only between the layers, in memory.
mod secret_setting {
    use overseer_ports::agent::Secret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secret: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
        match secret {
            Some(secret) => s.serialize_some(secret.expose()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(Secret::new))
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
