//! [`OverseerBuilder`]: what an instance is made of, and `start`, which does everything
//! `overseer serve` does before it listens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use overseer_ports::agent::{AgentRunner, Secret};
use overseer_ports::{
    ClusterBus, EventBroadcaster, EventSubscriber, NoTelemetry, NotificationSender, Telemetry,
};
use overseer_runner_claude::{ClaudeConfig, ClaudeRunner, ProcessRecords, check_cli};
use overseer_services::{
    Adapters, AgentRuntime, Deps, InProcessBroadcaster, OutboxConfig, Services, ServicesConfig,
};
use overseer_store::Store;

use crate::database_url::DatabaseUrl;
use crate::error::StartError;
use crate::handle::Overseer;
use crate::node::{self, SandboxMode};

/// The Claude Code CLI as the agent runner, with the server's safety defaults.
#[derive(Clone, Debug)]
pub struct ClaudeAgents {
    /// The CLI: a path is taken as given; a bare name is looked up on `PATH`, then as
    /// `./node_modules/.bin/claude` under the working directory. Default `claude`.
    pub binary: PathBuf,
    /// The agents' own environment (never logged). Default: `ANTHROPIC_API_KEY`,
    /// `ANTHROPIC_BASE_URL` and `ANTHROPIC_AUTH_TOKEN` from this process, when set.
    pub env: Vec<(String, Secret)>,
    /// Variables of this process's environment also passed on (besides what the CLI needs).
    pub inherited_env: Vec<String>,
    /// Default [`SandboxMode::Auto`].
    pub sandbox: SandboxMode,
    /// Paths sandboxed agents must not read besides the data directory.
    pub hidden_paths: Vec<PathBuf>,
}

impl ClaudeAgents {
    /// The CLI looked for when none is configured.
    pub const DEFAULT_BINARY: &'static str = "claude";
}

impl Default for ClaudeAgents {
    fn default() -> Self {
        Self {
            binary: PathBuf::from(Self::DEFAULT_BINARY),
            env: anthropic_env_from_process(),
            inherited_env: Vec::new(),
            sandbox: SandboxMode::Auto,
            hidden_paths: Vec::new(),
        }
    }
}

/// `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` and `ANTHROPIC_AUTH_TOKEN` from this process's
/// environment, those that are set.
#[must_use]
pub fn anthropic_env_from_process() -> Vec<(String, Secret)> {
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

impl Overseer {
    /// A builder with every default (see [`OverseerBuilder`]).
    #[must_use]
    pub fn builder() -> OverseerBuilder {
        OverseerBuilder::default()
    }
}

enum Database {
    Url(DatabaseUrl),
    Store(Store),
}

enum Agents {
    Claude(ClaudeAgents),
    Runner(Arc<dyn AgentRunner>),
}

/// Builds an [`Overseer`]. Every part has a default: SQLite in `./data`, the Claude Code CLI
/// with the sandbox on `auto`, an in-process broadcaster, no telemetry, the services' default
/// configuration.
pub struct OverseerBuilder {
    data_dir: PathBuf,
    database: Option<Database>,
    agents: Agents,
    events: Option<(Arc<dyn EventBroadcaster>, Arc<dyn EventSubscriber>)>,
    telemetry: Arc<dyn Telemetry>,
    config: ServicesConfig,
    wrap: Option<RunnerWrap>,
    notification_sender: Option<Arc<dyn NotificationSender>>,
}

/// Wraps the runner the builder made (see [`OverseerBuilder::wrap_runner`]).
type RunnerWrap = Box<dyn FnOnce(Arc<dyn AgentRunner>) -> Arc<dyn AgentRunner> + Send>;

impl std::fmt::Debug for OverseerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverseerBuilder")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl OverseerBuilder {
    /// The data directory when none is given.
    pub const DEFAULT_DATA_DIR: &'static str = "./data";
}

impl Default for OverseerBuilder {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(Self::DEFAULT_DATA_DIR),
            database: None,
            agents: Agents::Claude(ClaudeAgents::default()),
            events: None,
            telemetry: Arc::new(NoTelemetry),
            config: ServicesConfig::default(),
            wrap: None,
            notification_sender: None,
        }
    }
}

impl OverseerBuilder {
    /// Where working directories, reports, the node id, agent records and (without a database
    /// URL) the SQLite database live. Created if missing. Default `./data`.
    #[must_use]
    pub fn data_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.data_dir = path.into();
        self
    }

    /// The database to open and migrate: `postgres://…` or `sqlite:…`. Default: SQLite at
    /// `<data_dir>/overseer.db`.
    #[must_use]
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database = Some(Database::Url(DatabaseUrl::new(url)));
        self
    }

    /// A store already open (it is migrated at start all the same).
    #[must_use]
    pub fn store(mut self, store: Store) -> Self {
        self.database = Some(Database::Store(store));
        self
    }

    /// Runs agents with the Claude Code CLI, configured so (the default, with
    /// [`ClaudeAgents::default`]).
    #[must_use]
    pub fn claude(mut self, claude: ClaudeAgents) -> Self {
        self.agents = Agents::Claude(claude);
        self
    }

    /// Runs agents with `runner` instead of the Claude Code CLI (e.g. a [`overseer_ports::agent::Layered`]
    /// around a `ClaudeRunner`). The node then counts as able to run agents; sandboxing and
    /// reaping are the runner's own business.
    #[must_use]
    pub fn runner(mut self, runner: Arc<dyn AgentRunner>) -> Self {
        self.agents = Agents::Runner(runner);
        self
    }

    /// Wraps the runner (the Claude CLI's, set up as `serve` sets it up, or the one given to
    /// [`OverseerBuilder::runner`]) before the services get it: e.g.
    /// `|inner| Arc::new(Layered::new(MyLayer, inner))` with a
    /// [`overseer_ports::agent::RunnerLayer`] that logs or measures every start.
    #[must_use]
    pub fn wrap_runner(
        mut self,
        wrap: impl FnOnce(Arc<dyn AgentRunner>) -> Arc<dyn AgentRunner> + Send + 'static,
    ) -> Self {
        self.wrap = Some(Box::new(wrap));
        self
    }

    /// Where live events go, and where streams subscribe (often one object implementing
    /// both). Default: one [`InProcessBroadcaster`].
    #[must_use]
    pub fn events(
        mut self,
        broadcaster: Arc<dyn EventBroadcaster>,
        subscriber: Arc<dyn EventSubscriber>,
    ) -> Self {
        self.events = Some((broadcaster, subscriber));
        self
    }

    /// Sends the outbox's notifications (an HTTP client; the `overseer` binary uses
    /// reqwest). Without one, nothing is sent: deliveries wait in the outbox until a node
    /// with a sender takes them.
    #[must_use]
    pub fn notification_sender(mut self, sender: Arc<dyn NotificationSender>) -> Self {
        self.notification_sender = Some(sender);
        self
    }

    /// Where measurements go. Default: nowhere.
    #[must_use]
    pub fn telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// The services' configuration (limits, timeouts, pool sizes, built-in tool servers).
    /// Its node id and agent runtime are set at start.
    #[must_use]
    pub fn config(mut self, config: ServicesConfig) -> Self {
        self.config = config;
        self
    }

    /// Starts the instance: creates the data directory, reads (or creates) the node id, opens
    /// and migrates the database, finds the CLI and checks it (`--version`), detects the
    /// sandbox (warning when `auto` finds none) or PID-namespace containment, kills agent
    /// processes a previous run of this node left, wires the services and starts their
    /// background loops (queue worker, scheduler, idle-agent evictor, warm-pool expiry,
    /// cluster relay). Must be called inside a tokio runtime.
    ///
    /// A missing or broken CLI does not fail the start: the node runs everything but agents,
    /// logs how to fix it, and refuses runs (see `Services::agent_runtime`).
    ///
    /// # Errors
    /// [`StartError`] when the data directory or the database cannot be used.
    pub async fn start(self) -> Result<Overseer, StartError> {
        let data_dir = node::data_dir(&self.data_dir)?;
        let node = node::node_id(&data_dir)?;
        let store = match self.database {
            Some(Database::Store(store)) => {
                migrate(&store, &DatabaseUrl::new(store.connection_url())).await?;
                store
            }
            Some(Database::Url(url)) => open_store_as(&url, &node).await?,
            None => {
                let url = DatabaseUrl::sqlite_file(&data_dir.join("overseer.db"));
                open_store_as(&url, &node).await?
            }
        };
        let mut config = self.config;
        let runner: Arc<dyn AgentRunner> = match self.agents {
            Agents::Claude(claude) => {
                let (runner, runtime) = claude_runner(claude, &data_dir).await;
                config.agent_runtime = runtime;
                Arc::new(runner)
            }
            Agents::Runner(runner) => runner,
        };
        let runner = match self.wrap {
            Some(wrap) => wrap(runner),
            None => runner,
        };
        config.queue.node_id = node.clone();
        let (broadcaster, subscriber) = self.events.unwrap_or_else(|| {
            let live = Arc::new(InProcessBroadcaster::default());
            (live.clone(), live)
        });
        let adapters = Adapters {
            deps: Deps::system(store.repositories()),
            runner,
            workspaces: Arc::new(overseer_files::LocalWorkspaces::new(&data_dir)),
            report_files: Arc::new(overseer_files::LocalReportFiles::new(&data_dir)),
            report_renderer: Arc::new(overseer_reports::DocumentRenderer),
            calendar: Arc::new(overseer_calendar::CronCalendar),
            broadcaster,
            telemetry: self.telemetry,
            cluster: cluster_bus(&store, &node),
        };
        let services = Services::build(adapters, config);
        let mut running = services.start();
        if let Some(sender) = self.notification_sender {
            running.adopt(
                "notification outbox",
                services.outbox(sender, OutboxConfig::default()).spawn(),
            );
        }
        Ok(Overseer::new(
            services, store, running, subscriber, data_dir, node,
        ))
    }
}

/// On Postgres, live events and session commands also travel between the nodes sharing the
/// database (LISTEN / NOTIFY); on SQLite there is one node.
#[cfg(feature = "postgres")]
fn cluster_bus(store: &Store, node: &str) -> Option<Arc<dyn ClusterBus>> {
    overseer_store::PgClusterBus::new(store, node).map(|bus| Arc::new(bus) as Arc<dyn ClusterBus>)
}

#[cfg(not(feature = "postgres"))]
fn cluster_bus(_: &Store, _: &str) -> Option<Arc<dyn ClusterBus>> {
    None
}

/// Opens and migrates the database at `url` for the node whose data directory is `data_dir`
/// (what `overseer migrate` does).
///
/// # Errors
/// [`StartError`] when the data directory or the database cannot be used.
pub async fn open_store(url: &DatabaseUrl, data_dir: &Path) -> Result<Store, StartError> {
    let node = node::node_id(&node::data_dir(data_dir)?)?;
    open_store_as(url, &node).await
}

async fn open_store_as(url: &DatabaseUrl, node: &str) -> Result<Store, StartError> {
    // Under its node name, so the other nodes can tell whether this one is up.
    let store = Store::connect_as(url.expose(), node)
        .await
        .map_err(|source| StartError::Database {
            url: url.redacted(),
            source,
        })?;
    migrate(&store, url).await?;
    Ok(store)
}

async fn migrate(store: &Store, url: &DatabaseUrl) -> Result<(), StartError> {
    store
        .migrate()
        .await
        .map_err(|source| StartError::Database {
            url: url.redacted(),
            source,
        })?;
    tracing::info!(database = %url, backend = store.backend_name(), "database ready");
    Ok(())
}

/// The Claude runner as `overseer serve` sets it up, and whether agents can run: the CLI found
/// and checked, the sandbox or containment detected, the previous run's leftovers reaped, the
/// seed of agents' configuration directories made.
async fn claude_runner(claude: ClaudeAgents, data_dir: &Path) -> (ClaudeRunner, AgentRuntime) {
    let here = std::env::current_dir().unwrap_or_default();
    let (binary, mut runtime) = match check_cli(&claude.binary, &here).await {
        Ok(found) => {
            tracing::info!(path = %found.path.display(), version = %found.version, "Claude Code CLI found");
            if found.older_than_tested() {
                tracing::warn!(
                    version = %found.version,
                    oldest_tested = overseer_runner_claude::OLDEST_TESTED_VERSION,
                    "this Claude Code CLI is older than any version Overseer was tested with \
                     (docs/compatibility.md): update it (npm ci installs the pinned one)"
                );
            }
            (
                found.path,
                AgentRuntime::Ready {
                    version: found.version,
                },
            )
        }
        Err(err) => {
            tracing::error!("agents cannot run on this node: {err}");
            (
                claude.binary,
                AgentRuntime::Unavailable {
                    reason: err.to_string(),
                },
            )
        }
    };
    let sandbox = node::agent_sandbox(claude.sandbox, data_dir, &claude.hidden_paths)
        .unwrap_or_else(|reason| {
            tracing::error!("agents cannot run on this node: {reason}");
            if matches!(runtime, AgentRuntime::Ready { .. }) {
                runtime = AgentRuntime::Unavailable { reason };
            }
            None
        });
    let containment = node::agent_containment(sandbox.is_some());
    let runner = ClaudeRunner::new(ClaudeConfig {
        binary,
        containment,
        env: claude.env.into_iter().collect(),
        process_records: Some(ProcessRecords::new(data_dir.join("agents"))),
        inherited_env: claude.inherited_env,
        sandbox,
        session_config_root: Some(data_dir.join("agent-config")),
        ..ClaudeConfig::default()
    });
    let reaped = runner.reap_orphans();
    if reaped > 0 {
        tracing::warn!(
            groups = reaped,
            "killed agent processes left by this node's previous run"
        );
    }
    if let AgentRuntime::Ready { version } = &runtime
        && let Err(err) = runner.seed_session_configs(version).await
    {
        tracing::warn!(error = %err, "agents start from empty configuration directories (a little slower): the CLI could not make their seed");
    }
    (runner, runtime)
}
