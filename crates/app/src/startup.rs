//! Builds the application from settings: opens and migrates the store, loads the JWT secret,
//! wires adapters and services, and binds the listener.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, dev::Server};
use overseer_auth::{Argon2Hasher, JwtIssuer};
use overseer_domain::{DirRoots, McpServerName};
use overseer_files::{LocalReportFiles, LocalWorkspaces};
use overseer_http::metrics::PrometheusTelemetry;
use overseer_http::throttle::AuthThrottles;
use overseer_http::{HttpState, configure};
use overseer_ports::agent::Secret;
use overseer_ports::repositories::ClaimLimits;
use overseer_ports::{ClusterBus, EventBroadcaster, RandomIds, SystemClock, Telemetry};
use overseer_runner_claude::{
    ClaudeConfig, ClaudeRunner, Containment, ProcessRecords, Sandbox, check_cli, find_on_path,
};
use overseer_services::InProcessBroadcaster;
use overseer_services::QueueConfig;
use overseer_services::{
    Adapters, AgentRuntime, BuiltinToolServers, Deps, OptionRules, PoolConfig, Running, Services,
    ServicesConfig, WarmPoolConfig,
};
use overseer_services::{AuthConfig, AuthService};
use overseer_services::{TraceParent, TracePropagation};
use overseer_store::{PgClusterBus, Store, StoreError};

use crate::settings::{SandboxMode, Settings};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot use the data directory {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the database {url}")]
    Database {
        url: String,
        #[source]
        source: StoreError,
    },
    #[error("a setting cannot be used")]
    Settings(#[from] crate::settings::ConfigError),
    #[error("the [tools] configuration cannot be used")]
    Tools(#[from] overseer_tools::ToolsConfigError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A built application: migrated store, bound listener, server ready to run.
pub struct Application {
    address: SocketAddr,
    server: Server,
    store: Store,
    services: Services,
    /// The node's background loops, stopped after the services shut down.
    running: Running,
    shutdown_grace: Duration,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// The data directory, created and made absolute (agents run in directories under it).
fn data_dir(settings: &Settings) -> Result<PathBuf, AppError> {
    let failed = |source| AppError::DataDir {
        path: settings.data_dir.clone(),
        source,
    };
    std::fs::create_dir_all(&settings.data_dir).map_err(failed)?;
    settings.data_dir.canonicalize().map_err(failed)
}

/// The agents' sandbox as configured: `auto` takes `bwrap` from `PATH` if it works there.
/// The sandbox agents run in, if any. `Err` (with how to fix it) when the sandbox is required
/// (`on`) but does not work: the node then runs no agents at all.
fn agent_sandbox(settings: &Settings, data_dir: &Path) -> Result<Option<Sandbox>, String> {
    if settings.agent_sandbox == SandboxMode::Off {
        return Ok(None);
    }
    let bwrap = find_on_path(Path::new("bwrap")).filter(|bwrap| Sandbox::works(bwrap));
    let Some(bwrap) = bwrap else {
        if settings.agent_sandbox == SandboxMode::On {
            return Err(
                "--agent-sandbox on, but there is no working `bwrap` on PATH: install bubblewrap \
                 (Debian: apt-get install bubblewrap) where user namespaces are allowed, or set \
                 --agent-sandbox auto|off"
                    .to_owned(),
            );
        }
        tracing::warn!(
            "agents run without a sandbox: no working `bwrap` on PATH (install bubblewrap, or \
             set --agent-sandbox off to silence this)"
        );
        return Ok(None);
    };
    let mut hidden = vec![data_dir.to_path_buf()];
    // Kubeconfigs hold cluster credentials: the tools read them, the agent never does.
    let kubernetes = &settings.tools.kubernetes;
    hidden.extend(
        settings
            .agent_hidden_paths
            .iter()
            .chain(&kubernetes.kubeconfig)
            .chain(&kubernetes.kubeconfig_roots)
            .filter_map(|path| std::fs::canonicalize(path).ok()),
    );
    tracing::info!(bwrap = %bwrap.display(), "agents run sandboxed");
    Ok(Some(Sandbox { bwrap, hidden }))
}

/// Without the sandbox, a PID namespace per agent so that its tools die with the service (the
/// sandbox does that itself). Where namespaces are not allowed, the start-up reaping of the
/// next run is the only line, and the log says so.
fn agent_containment(sandboxed: bool) -> Option<Containment> {
    if sandboxed {
        return None;
    }
    let containment = Containment::detect();
    match &containment {
        Some(_) => tracing::info!(
            "agents run in PID namespaces of their own: their processes end with the service"
        ),
        None => tracing::warn!(
            "agents' tools may outlive a killed service until its next start: neither bwrap \
             nor `unshare --pid` (util-linux) works here"
        ),
    }
    containment
}

/// The built-in tool servers, configured from `[tools]`.
fn tool_servers(settings: &Settings) -> Result<BuiltinToolServers, AppError> {
    let mut servers = BuiltinToolServers::default();
    for (name, factory) in overseer_tools::builtin_servers(&settings.tools)? {
        let name = McpServerName::new(name).map_err(|e| {
            AppError::Tools(overseer_tools::ToolsConfigError {
                key: name.to_owned(),
                reason: e.to_string(),
            })
        })?;
        servers = servers.with(name, factory);
    }
    Ok(servers)
}

/// The configured JWT secret, or the one kept in the data directory (generated on first
/// start, readable by the owner only). There is no built-in fallback.
fn jwt_secret(settings: &Settings, data_dir: &Path) -> Result<Secret, AppError> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.clone());
    }
    let path = data_dir.join("jwt-secret");
    let failed = |source| AppError::DataDir {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 32 => return Ok(Secret::new(secret.trim())),
        Ok(_) | Err(_) if path.exists() => {
            return Err(failed(std::io::Error::other(
                "the stored JWT secret is unreadable or too short",
            )));
        }
        _ => {}
    }
    // 4 × 122 random bits from the OS generator.
    let secret: String = (0..4)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    write_private(&path, &secret).map_err(failed)?;
    tracing::info!(path = %path.display(), "generated a JWT secret");
    Ok(Secret::new(secret))
}

/// This node's name in execution leases, kept in the data directory so that a restart after a
/// crash is recognised as the same node and settles its runs at once. Each node needs its own
/// data directory.
fn node_id(data_dir: &Path) -> Result<String, AppError> {
    let path = data_dir.join("node-id");
    let failed = |source| AppError::DataDir {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
        Ok(_) => return Err(failed(std::io::Error::other("the stored node id is empty"))),
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(failed(err)),
        Err(_) => {}
    }
    let id = format!("node-{}", uuid::Uuid::new_v4().simple());
    write_private(&path, &id).map_err(failed)?;
    Ok(id)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// Opens and migrates the configured store.
///
/// # Errors
/// [`AppError::DataDir`] or [`AppError::Database`].
pub async fn open_store(settings: &Settings) -> Result<Store, AppError> {
    let node = node_id(&data_dir(settings)?)?;
    let url = settings.effective_database_url();
    let database_error = |source| AppError::Database {
        url: url.redacted(),
        source,
    };
    // Under its node name, so the other nodes can tell whether this one is up.
    let store = Store::connect_as(url.expose(), &node)
        .await
        .map_err(database_error)?;
    store.migrate().await.map_err(database_error)?;
    tracing::info!(database = %url, backend = store.backend_name(), "database ready");
    Ok(store)
}

/// What start-up found of the agents' runtime: the CLI to run, and whether agents can run.
#[derive(Clone, Debug)]
pub struct AgentSetup {
    /// The CLI as found (or as configured, when it was not).
    pub binary: PathBuf,
    pub runtime: AgentRuntime,
}

impl AgentSetup {
    /// The configured CLI, taken as working without a check (for commands that run no agent).
    #[must_use]
    pub fn unchecked(settings: &Settings) -> Self {
        Self {
            binary: settings.claude_binary.clone(),
            runtime: AgentRuntime::default(),
        }
    }
}

/// Finds the CLI (the configured binary; for a bare name, `PATH`, then the project's own
/// `node_modules/.bin/claude` under the working directory) and asks its version. Logs what it
/// found, or one error saying how to fix it; never fails: a node without a CLI still serves
/// everything but agents, and says so on `/health`.
pub async fn check_agent_runtime(settings: &Settings) -> AgentSetup {
    let here = std::env::current_dir().unwrap_or_default();
    match check_cli(&settings.claude_binary, &here).await {
        Ok(found) => {
            tracing::info!(path = %found.path.display(), version = %found.version, "Claude Code CLI found");
            AgentSetup {
                binary: found.path,
                runtime: AgentRuntime::Ready {
                    version: found.version,
                },
            }
        }
        Err(err) => {
            tracing::error!("agents cannot run on this node: {err}");
            AgentSetup {
                binary: settings.claude_binary.clone(),
                runtime: AgentRuntime::Unavailable {
                    reason: err.to_string(),
                },
            }
        }
    }
}

/// The services and the auth service over `store`.
///
/// # Errors
/// [`AppError::DataDir`] if the data directory or the JWT secret cannot be used.
pub fn wire(
    settings: &Settings,
    store: &Store,
    live: Arc<dyn EventBroadcaster>,
    telemetry: Arc<dyn Telemetry>,
    agent: AgentSetup,
) -> Result<(Services, Arc<AuthService>), AppError> {
    let data_dir = data_dir(settings)?;
    let deps = Deps {
        repos: store.repositories(),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
    };
    let auth = Arc::new(AuthService::new(
        deps.clone(),
        Arc::new(Argon2Hasher),
        Arc::new(JwtIssuer::new(&jwt_secret(settings, &data_dir)?)),
        AuthConfig {
            registration_open: settings.registration_open,
            ..AuthConfig::default()
        },
    ));
    let AgentSetup {
        binary,
        mut runtime,
    } = agent;
    let sandbox = agent_sandbox(settings, &data_dir).unwrap_or_else(|reason| {
        tracing::error!("agents cannot run on this node: {reason}");
        if matches!(runtime, AgentRuntime::Ready { .. }) {
            runtime = AgentRuntime::Unavailable { reason };
        }
        None
    });
    let containment = agent_containment(sandbox.is_some());
    let runner = ClaudeRunner::new(ClaudeConfig {
        binary,
        containment,
        env: settings.agent_env.iter().cloned().collect(),
        process_records: Some(ProcessRecords::new(data_dir.join("agents"))),
        inherited_env: settings.agent_env_passthrough.clone(),
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
    let node = node_id(&data_dir)?;
    // On Postgres, live events and session commands also travel between the nodes sharing
    // the database (LISTEN / NOTIFY); on SQLite there is one node.
    let cluster = PgClusterBus::new(store, &node).map(|bus| Arc::new(bus) as Arc<dyn ClusterBus>);
    let adapters = Adapters {
        deps,
        runner: Arc::new(runner),
        workspaces: Arc::new(LocalWorkspaces::new(&data_dir)),
        report_files: Arc::new(LocalReportFiles::new(&data_dir)),
        report_renderer: Arc::new(overseer_reports::DocumentRenderer),
        calendar: Arc::new(overseer_calendar::CronCalendar),
        broadcaster: live,
        telemetry,
        cluster,
    };
    let config = ServicesConfig {
        pool: PoolConfig {
            max_live: settings.max_live_agents,
            idle_timeout: settings.agent_idle_timeout(),
            start_timeout: settings.agent_start_timeout(),
        },
        queue: QueueConfig {
            node_slots: settings.max_concurrent_executions,
            limits: ClaimLimits {
                global: settings.max_running_total,
                per_user: settings.max_running_per_user,
            },
            node_id: node,
            lease: settings.lease(),
            ..QueueConfig::default()
        },
        default_execution_timeout: settings.execution_timeout(),
        default_quota: settings.default_quota()?,
        max_open_sessions: settings.max_open_sessions_per_user,
        option_rules: OptionRules {
            dir_roots: DirRoots::new(settings.agent_dir_roots.iter().cloned()),
            tool_servers: tool_servers(settings)?,
        },
        warm: WarmPoolConfig {
            max_agents: settings.warm_agents,
            max_age: settings.warm_agent_max_age(),
        },
        agent_runtime: runtime,
        trace_propagation: TracePropagation(
            settings
                .otlp_endpoint
                .is_some()
                .then(|| Arc::new(crate::traces::W3cTraceParent) as Arc<dyn TraceParent>),
        ),
        ..ServicesConfig::default()
    };
    Ok((Services::build(adapters, config), auth))
}

impl Application {
    /// Opens the store (creating the data directory and applying migrations), wires the
    /// services and binds the listener. Port 0 binds a free port; [`Application::address`]
    /// tells which.
    ///
    /// # Errors
    /// [`AppError`] naming the step that failed.
    pub async fn build(settings: &Settings) -> Result<Self, AppError> {
        let store = open_store(settings).await?;
        let live = Arc::new(InProcessBroadcaster::default());
        let telemetry = PrometheusTelemetry::new();
        let agent = check_agent_runtime(settings).await;
        let (services, auth) = wire(
            settings,
            &store,
            live.clone() as Arc<dyn EventBroadcaster>,
            Arc::new(telemetry.clone()),
            agent,
        )?;
        let bind_error = |source| AppError::Bind {
            addr: settings.bind,
            source,
        };
        let listener = TcpListener::bind(settings.bind).map_err(bind_error)?;
        let address = listener.local_addr().map_err(bind_error)?;
        let state = HttpState {
            services: services.clone(),
            auth,
            live,
            health_probes: vec![
                Arc::new(store.clone()),
                Arc::new(services.agent_runtime.clone()),
            ],
            telemetry,
            throttles: Arc::new(AuthThrottles::per_minute(settings.auth_attempts_per_minute)),
        };
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(
                    overseer_http::metrics::track,
                ))
                .wrap(actix_web::middleware::from_fn(
                    overseer_http::request_log::log_request,
                ))
                .configure(configure(state.clone()))
        })
        .listen(listener)
        .map_err(bind_error)?
        .run();
        let running = services.start();
        Ok(Self {
            address,
            server,
            store,
            services,
            running,
            shutdown_grace: settings.shutdown_grace(),
        })
    }

    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until the process is asked to stop (SIGINT/SIGTERM): the server stops accepting
    /// and finishes its requests, running executions get the grace period, then every agent
    /// stops (runs cut short fail with "shutdown"; queued ones stay pending).
    ///
    /// # Errors
    /// The server's I/O error.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let outcome = self.server.await;
        tracing::info!(grace = ?self.shutdown_grace, "shutting down");
        self.services.shutdown(self.shutdown_grace).await;
        self.running.stop().await;
        outcome
    }
}
