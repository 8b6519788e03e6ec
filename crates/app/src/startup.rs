//! Builds the application from settings on the library's entry point
//! ([`overseer::Overseer::builder`]): the same start as an embedder's, then the HTTP server.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, dev::Server};
use overseer::{ClaudeAgents, HttpOptions, Overseer, OverseerBuilder, StartError, Store};
use overseer_domain::{DirRoots, McpServerName};
use overseer_http::metrics::PrometheusTelemetry;
use overseer_ports::repositories::ClaimLimits;
use overseer_services::{
    BuiltinToolServers, OptionRules, PoolConfig, QueueConfig, ServicesConfig, TraceParent,
    TracePropagation, WarmPoolConfig,
};

use crate::notification_sender::HttpNotificationSender;
use crate::settings::{ConfigError, SandboxMode, Settings};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The data directory or the database cannot be used.
    #[error(transparent)]
    Start(#[from] StartError),
    /// A setting cannot be used.
    #[error("a setting cannot be used")]
    Settings(#[from] ConfigError),
    /// The `[tools]` section cannot be used.
    #[error("the [tools] configuration cannot be used")]
    Tools(#[from] overseer_tools::ToolsConfigError),
    /// The listener cannot be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client that sends notifications cannot be built.
    #[error("cannot build the notifications' HTTP client: {0}")]
    Notifications(String),
}

/// A built application: a started instance, and its HTTP server ready to run.
pub struct Application {
    address: SocketAddr,
    server: Server,
    overseer: Overseer,
    shutdown_grace: Duration,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
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

/// The entry point's builder, set from `settings`: what `overseer serve` runs.
///
/// # Errors
/// [`AppError::Settings`] or [`AppError::Tools`] for settings that cannot be used.
pub fn builder(settings: &Settings) -> Result<OverseerBuilder, AppError> {
    // Kubeconfigs hold cluster credentials: the tools read them, the agent never does.
    let kubernetes = &settings.tools.kubernetes;
    let hidden_paths: Vec<PathBuf> = settings
        .agent_hidden_paths
        .iter()
        .chain(&kubernetes.kubeconfig)
        .chain(&kubernetes.kubeconfig_roots)
        .cloned()
        .collect();
    let claude = ClaudeAgents {
        binary: settings.claude_binary.clone(),
        env: settings.agent_env.clone(),
        inherited_env: settings.agent_env_passthrough.clone(),
        sandbox: match settings.agent_sandbox {
            SandboxMode::Auto => overseer::SandboxMode::Auto,
            SandboxMode::On => overseer::SandboxMode::On,
            SandboxMode::Off => overseer::SandboxMode::Off,
        },
        hidden_paths,
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
        trace_propagation: TracePropagation(
            settings
                .otlp_endpoint
                .is_some()
                .then(|| Arc::new(crate::traces::W3cTraceParent) as Arc<dyn TraceParent>),
        ),
        ..ServicesConfig::default()
    };
    let mut builder = Overseer::builder()
        .data_dir(&settings.data_dir)
        .claude(claude)
        .config(config);
    if let Some(url) = &settings.database_url {
        builder = builder.database_url(url.expose());
    }
    Ok(builder)
}

/// Opens and migrates the configured store (what `overseer migrate` does).
///
/// # Errors
/// [`AppError::Start`].
pub async fn open_store(settings: &Settings) -> Result<Store, AppError> {
    Ok(overseer::open_store(&settings.effective_database_url(), &settings.data_dir).await?)
}

impl Application {
    /// Starts the instance through the library's entry point and binds the listener. Port 0
    /// binds a free port; [`Application::address`] tells which.
    ///
    /// # Errors
    /// [`AppError`] naming the step that failed.
    pub async fn build(settings: &Settings) -> Result<Self, AppError> {
        let telemetry = PrometheusTelemetry::new();
        let sender =
            HttpNotificationSender::new().map_err(|e| AppError::Notifications(e.to_string()))?;
        let overseer = builder(settings)?
            .telemetry(Arc::new(telemetry.clone()))
            .notification_sender(Arc::new(sender))
            .start()
            .await?;
        let bind_error = |source| AppError::Bind {
            addr: settings.bind,
            source,
        };
        let listener = TcpListener::bind(settings.bind).map_err(bind_error)?;
        let address = listener.local_addr().map_err(bind_error)?;
        let api = overseer.http_api(HttpOptions {
            jwt_secret: settings.jwt_secret.clone(),
            registration_open: settings.registration_open,
            auth_attempts_per_minute: settings.auth_attempts_per_minute,
            telemetry,
            public_url: Some(settings.public_url_or(address)?),
        })?;
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(
                    overseer_http::metrics::track,
                ))
                .wrap(actix_web::middleware::from_fn(
                    overseer_http::request_log::log_request,
                ))
                .configure(api.configure())
        })
        .listen(listener)
        .map_err(bind_error)?
        .run();
        Ok(Self {
            address,
            server,
            overseer,
            shutdown_grace: settings.shutdown_grace(),
        })
    }

    /// Where the server listens.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The migrated store.
    #[must_use]
    pub fn store(&self) -> &Store {
        self.overseer.store()
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
        self.overseer.shutdown(self.shutdown_grace).await;
        outcome
    }
}
