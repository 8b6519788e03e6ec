//! `overseer`: run the service, or manage its database and users.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use overseer_app::logging::LogFormat;
use overseer_app::{
    AgentSetup, Application, ConfigError, DatabaseUrl, FileSettings, SandboxMode, Settings,
    layered, open_store, wire,
};
use overseer_domain::{Quota, Role, UsdBudget};
use overseer_ports::agent::Secret;
use overseer_services::PoolConfig;
use overseer_services::broadcast::InProcessBroadcaster;

#[derive(Debug, Parser)]
#[command(
    name = "overseer",
    version,
    about = "Runs Claude Code agents as audited tasks behind a REST API"
)]
struct Cli {
    /// A TOML file of settings (keys as the long flags, with '_'); flags and environment
    /// variables win over it. Default: ./overseer.toml if it exists.
    #[arg(
        long,
        env = "OVERSEER_CONFIG",
        default_value = "overseer.toml",
        global = true
    )]
    config: PathBuf,
    /// Where the embedded database, working directories, reports and the JWT secret live.
    #[arg(long, env = "OVERSEER_DATA_DIR", default_value = Settings::DEFAULT_DATA_DIR, global = true)]
    data_dir: PathBuf,
    /// `postgres://…` or `sqlite:…`; default: SQLite at <data-dir>/overseer.db.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    database_url: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "OVERSEER_BIND", default_value = Settings::DEFAULT_BIND, global = true)]
    bind: SocketAddr,
    /// Signs access tokens; default: a secret generated once in <data-dir>/jwt-secret.
    #[arg(
        long,
        env = "OVERSEER_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    jwt_secret: Option<String>,
    /// Turns self-service registration off (`overseer user create` still works).
    #[arg(long, env = "OVERSEER_DISABLE_REGISTRATION", global = true)]
    disable_registration: bool,
    /// The Claude Code CLI to run.
    #[arg(
        long,
        env = "OVERSEER_CLAUDE_BINARY",
        default_value = "claude",
        global = true
    )]
    claude_binary: PathBuf,
    /// Live agent processes at most (each takes about 310 MB), warm agents included. A session
    /// needing one when all are taken closes the least recently used idle one.
    #[arg(
        long,
        env = "OVERSEER_MAX_LIVE_AGENTS",
        default_value_t = PoolConfig::DEFAULT_MAX_LIVE,
        global = true
    )]
    max_live_agents: usize,
    /// Seconds an agent may sit with no turn in progress before it hibernates (its process
    /// ends; the session's next message resumes the conversation).
    #[arg(
        long,
        env = "OVERSEER_AGENT_IDLE_TIMEOUT_SECONDS",
        default_value_t = PoolConfig::DEFAULT_IDLE_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    agent_idle_timeout_seconds: u64,
    /// Seconds a start may wait for an agent slot while every live agent is mid-turn; then
    /// the turn fails naming this limit (a 503 `agent-capacity` problem where one is answered).
    #[arg(
        long,
        env = "OVERSEER_AGENT_START_TIMEOUT_SECONDS",
        default_value_t = PoolConfig::DEFAULT_START_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    agent_start_timeout_seconds: u64,
    /// Executions running at once.
    #[arg(
        long,
        env = "OVERSEER_MAX_CONCURRENT_EXECUTIONS",
        default_value_t = 4,
        global = true
    )]
    max_concurrent_executions: usize,
    /// Executions running at once over every node sharing the database.
    #[arg(
        long,
        env = "OVERSEER_MAX_RUNNING_TOTAL",
        default_value_t = 8,
        global = true
    )]
    max_running_total: u32,
    /// Executions running at once per user, over every node.
    #[arg(
        long,
        env = "OVERSEER_MAX_RUNNING_PER_USER",
        default_value_t = 4,
        global = true
    )]
    max_running_per_user: u32,
    /// Log lines as `auto` (text, coloured only when stdout is a terminal), `text` or `json`.
    #[arg(
        long,
        env = "OVERSEER_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Auto,
        global = true
    )]
    log_format: LogFormat,
    /// Export traces (one per execution: request → queue → agent start → turns → tool calls →
    /// approval waits, with OpenTelemetry GenAI attributes) to this OTLP/HTTP collector, e.g.
    /// `http://127.0.0.1:4318`; agents then get `TRACEPARENT`. Off when unset.
    #[arg(long, env = "OVERSEER_OTLP_ENDPOINT", global = true)]
    otlp_endpoint: Option<String>,
    /// On shutdown, seconds running executions may take to finish before agents stop.
    #[arg(
        long,
        env = "OVERSEER_SHUTDOWN_GRACE_SECONDS",
        default_value_t = 30,
        global = true
    )]
    shutdown_grace_seconds: u64,
    /// Login attempts, and registrations, allowed per client address per minute.
    #[arg(
        long,
        env = "OVERSEER_AUTH_ATTEMPTS_PER_MINUTE",
        default_value_t = Settings::DEFAULT_AUTH_ATTEMPTS_PER_MINUTE,
        global = true
    )]
    auth_attempts_per_minute: std::num::NonZeroU32,
    /// Variables of this process's environment also passed to agents (comma-separated); by
    /// default they get only what the CLI needs to run.
    #[arg(
        long,
        env = "OVERSEER_AGENT_ENV_PASSTHROUGH",
        value_delimiter = ',',
        global = true
    )]
    agent_env_passthrough: Vec<String>,
    /// CLIs kept started ahead of demand (each ≈ 200 MiB) for the option sets asked for most
    /// recently; a new session taking one skips the CLI's start. 0 turns the pool off.
    #[arg(long, env = "OVERSEER_WARM_AGENTS", default_value_t = 0, global = true)]
    warm_agents: usize,
    /// Seconds an option set stays warm after the last run that asked for it.
    #[arg(
        long,
        env = "OVERSEER_WARM_AGENT_MAX_AGE_SECONDS",
        default_value_t = 600,
        global = true
    )]
    warm_agent_max_age_seconds: u64,
    /// Interactive sessions a user may have open at once; one more is a 429 naming
    /// `max_open_sessions` (task runs are bounded by the runs quota instead).
    #[arg(
        long,
        env = "OVERSEER_MAX_OPEN_SESSIONS_PER_USER",
        default_value_t = 20,
        global = true
    )]
    max_open_sessions_per_user: u32,
    /// Run agents inside bubblewrap namespaces: `auto` where `bwrap` works, `on` (refuse to
    /// start without it) or `off`. Sandboxed agents see the machine read-only, their own
    /// session's directory read-write, and nothing of the data directory or the service.
    #[arg(
        long,
        env = "OVERSEER_AGENT_SANDBOX",
        value_enum,
        default_value_t = SandboxMode::Auto,
        global = true
    )]
    agent_sandbox: SandboxMode,
    /// More paths sandboxed agents must not read (comma-separated), e.g. `~/.ssh`.
    #[arg(
        long,
        env = "OVERSEER_AGENT_HIDDEN_PATHS",
        value_delimiter = ',',
        global = true
    )]
    agent_hidden_paths: Vec<PathBuf>,
    /// Directories (comma-separated) inside which tasks may grant agents extra directories
    /// (`add_dirs`); a task asking for one elsewhere is refused with a 422.
    #[arg(
        long,
        env = "OVERSEER_AGENT_DIR_ROOTS",
        value_delimiter = ',',
        global = true
    )]
    agent_dir_roots: Vec<PathBuf>,
    /// Seconds an execution may run when its task sets no `timeout_seconds`.
    #[arg(
        long,
        env = "OVERSEER_EXECUTION_TIMEOUT_SECONDS",
        default_value_t = 1800,
        global = true
    )]
    execution_timeout_seconds: u64,
    /// Seconds a running execution's lease lasts without a heartbeat: how soon another node
    /// settles the runs of a node that died.
    #[arg(
        long,
        env = "OVERSEER_LEASE_SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    lease_seconds: u64,
    /// Quota for users without their own: executions pending or running at once (unset:
    /// unlimited).
    #[arg(long, env = "OVERSEER_DEFAULT_MAX_ACTIVE_RUNS", global = true)]
    default_max_active_runs: Option<u32>,
    /// Quota for users without their own: agent cost per UTC day in USD (unset: unlimited).
    #[arg(long, env = "OVERSEER_DEFAULT_MAX_DAILY_COST_USD", global = true)]
    default_max_daily_cost_usd: Option<f64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply migrations and serve the API.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user (the password is read from OVERSEER_NEW_USER_PASSWORD).
    Create(CreateUser),
}

#[derive(Debug, Args)]
struct CreateUser {
    #[arg(long)]
    email: String,
    /// Make the user an admin.
    #[arg(long)]
    admin: bool,
    #[arg(long, env = "OVERSEER_NEW_USER_PASSWORD", hide_env_values = true)]
    password: String,
}

impl Cli {
    /// Settings from the layers: defaults, then the file, then the environment and flags.
    fn settings(&self, matches: &ArgMatches) -> Result<Settings, ConfigError> {
        let explicit = |id: &str| {
            matches!(
                matches.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
        let file = FileSettings::load(&self.config, explicit("config"))?;
        let database_url = self.database_url.clone().or(file.database_url);
        let jwt_secret = self.jwt_secret.clone().or(file.jwt_secret);
        Ok(Settings {
            data_dir: layered(explicit("data_dir"), self.data_dir.clone(), file.data_dir),
            database_url: database_url.map(DatabaseUrl::new),
            bind: layered(explicit("bind"), self.bind, file.bind),
            jwt_secret: jwt_secret.map(Secret::new),
            registration_open: layered(
                explicit("disable_registration"),
                !self.disable_registration,
                file.registration_open,
            ),
            claude_binary: layered(
                explicit("claude_binary"),
                self.claude_binary.clone(),
                file.claude_binary,
            ),
            agent_env: Settings::agent_env_from_process(),
            otlp_endpoint: self.otlp_endpoint.clone(),
            max_live_agents: layered(
                explicit("max_live_agents"),
                self.max_live_agents,
                file.max_live_agents,
            ),
            agent_idle_timeout: std::time::Duration::from_secs(layered(
                explicit("agent_idle_timeout_seconds"),
                self.agent_idle_timeout_seconds,
                file.agent_idle_timeout_seconds,
            )),
            agent_start_timeout: std::time::Duration::from_secs(layered(
                explicit("agent_start_timeout_seconds"),
                self.agent_start_timeout_seconds,
                file.agent_start_timeout_seconds,
            )),
            max_concurrent_executions: layered(
                explicit("max_concurrent_executions"),
                self.max_concurrent_executions,
                file.max_concurrent_executions,
            ),
            max_running_total: layered(
                explicit("max_running_total"),
                self.max_running_total,
                file.max_running_total,
            ),
            max_running_per_user: layered(
                explicit("max_running_per_user"),
                self.max_running_per_user,
                file.max_running_per_user,
            ),
            shutdown_grace: std::time::Duration::from_secs(layered(
                explicit("shutdown_grace_seconds"),
                self.shutdown_grace_seconds,
                file.shutdown_grace_seconds,
            )),
            auth_attempts_per_minute: layered(
                explicit("auth_attempts_per_minute"),
                self.auth_attempts_per_minute,
                file.auth_attempts_per_minute,
            ),
            agent_env_passthrough: layered(
                explicit("agent_env_passthrough"),
                self.agent_env_passthrough.clone(),
                file.agent_env_passthrough,
            ),
            warm_agents: layered(explicit("warm_agents"), self.warm_agents, file.warm_agents),
            agent_sandbox: layered(
                explicit("agent_sandbox"),
                self.agent_sandbox,
                file.agent_sandbox,
            ),
            agent_hidden_paths: {
                let mut hidden = layered(
                    explicit("agent_hidden_paths"),
                    self.agent_hidden_paths.clone(),
                    file.agent_hidden_paths,
                );
                // The configuration file may hold the JWT secret or the database password.
                if let Ok(file) = std::fs::canonicalize(&self.config) {
                    hidden.push(file);
                }
                hidden
            },
            tools: file.tools.unwrap_or_default(),
            agent_dir_roots: layered(
                explicit("agent_dir_roots"),
                self.agent_dir_roots.clone(),
                file.agent_dir_roots,
            ),
            max_open_sessions_per_user: layered(
                explicit("max_open_sessions_per_user"),
                self.max_open_sessions_per_user,
                file.max_open_sessions_per_user,
            ),
            warm_agent_max_age: std::time::Duration::from_secs(layered(
                explicit("warm_agent_max_age_seconds"),
                self.warm_agent_max_age_seconds,
                file.warm_agent_max_age_seconds,
            )),
            default_quota: Quota {
                max_active_runs: self
                    .default_max_active_runs
                    .or(file.default_max_active_runs),
                max_daily_cost_usd: self
                    .default_max_daily_cost_usd
                    .or(file.default_max_daily_cost_usd)
                    .map(UsdBudget::new)
                    .transpose()
                    .map_err(|e| ConfigError::Setting {
                        name: "default_max_daily_cost_usd",
                        reason: e.reason,
                    })?,
            },
            lease: std::time::Duration::from_secs(layered(
                explicit("lease_seconds"),
                self.lease_seconds,
                file.lease_seconds,
            )),
            execution_timeout: std::time::Duration::from_secs(layered(
                explicit("execution_timeout_seconds"),
                self.execution_timeout_seconds,
                file.execution_timeout_seconds,
            )),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let traces = match cli
        .otlp_endpoint
        .as_deref()
        .map(overseer_app::traces::otlp_provider)
    {
        Some(Ok(provider)) => Some(provider),
        Some(Err(err)) => {
            overseer_app::logging::init(cli.log_format, None);
            tracing::error!("{err}");
            return ExitCode::FAILURE;
        }
        None => None,
    };
    overseer_app::logging::init(cli.log_format, traces.as_ref());
    let settings = match cli.settings(&matches) {
        Ok(settings) => settings,
        Err(err) => {
            tracing::error!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome: Result<(), Box<dyn std::error::Error>> = match cli.command {
        Command::Serve => serve(&settings).await,
        Command::Migrate => open_store(&settings).await.map(drop).map_err(Into::into),
        Command::User(UserCommand::Create(user)) => create_user(&settings, user).await,
        Command::Openapi => {
            use std::io::Write as _;
            std::io::stdout()
                .write_all(overseer_http::openapi::document_json().as_bytes())
                .map_err(Into::into)
        }
    };
    if let Some(provider) = traces
        && let Err(err) = provider.shutdown()
    {
        tracing::warn!(error = %err, "traces not all exported at shutdown");
    }
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut message = err.to_string();
            let mut source = err.source();
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    let app = Application::build(settings).await?;
    tracing::info!(address = %app.address(), "listening");
    app.run_until_stopped().await?;
    Ok(())
}

async fn create_user(
    settings: &Settings,
    user: CreateUser,
) -> Result<(), Box<dyn std::error::Error>> {
    let store = open_store(settings).await?;
    let (_, auth) = wire(
        settings,
        &store,
        std::sync::Arc::new(InProcessBroadcaster::default()),
        std::sync::Arc::new(overseer_ports::NoTelemetry),
        AgentSetup::unchecked(settings),
    )?;
    let role = if user.admin { Role::Admin } else { Role::User };
    let created = auth
        .create_user(&user.email, &user.password, role, None)
        .await?;
    tracing::info!(user = %created.id, email = %created.email, role = %created.role, "user created");
    Ok(())
}
