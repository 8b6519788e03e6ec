//! Builds the whole services layer from adapters: what the app, the end-to-end tests and the
//! services' own tests all wire the same way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use overseer_domain::{McpServerConfig, McpServerName, Quota};
use overseer_ports::agent::AgentRunner;
use overseer_ports::{
    ClusterBus, EventBroadcaster, NotificationSender, ReportFiles, ReportRenderer,
    ScheduleCalendar, Telemetry, Workspaces,
};

use crate::agents::mcp_config::McpConfigBuilder;
use crate::agents::mcp_servers::McpServerService;
use crate::agents::option_rules::OptionRules;
use crate::agents::pool::{AgentPool, PoolConfig};
use crate::agents::runtime::AgentRuntime;
use crate::agents::slots::AgentSlots;
use crate::agents::warm::{WarmPool, WarmPoolConfig};
use crate::approvals::ApprovalGate;
use crate::audit::AuditService;
use crate::cached_tasks::{CACHED_TASKS, CachedTasks};
use crate::cluster::link::ClusterLink;
use crate::cluster::relay::{RelayingBroadcaster, relay_from_other_nodes};
use crate::context::Deps;
use crate::events::execution_watch::ExecutionWatch;
use crate::executions::executor::{ExecutionRunner, RunLimits, Shutdown, StopRequests};
use crate::executions::queue::{QueueConfig, QueueWorker};
use crate::notifications::{ExecutionNotices, NotificationService, Outbox, OutboxConfig};
use crate::quotas::QuotaService;
use crate::reports::ReportService;
use crate::service_accounts::ServiceAccounts;
use crate::sessions::remote_commands::SessionCommands;
use crate::sessions::{SessionService, SessionServiceParts};
use crate::tasks::TaskService;
use crate::traces::{TracePropagation, TraceSpans};
use crate::triggers::scheduler::{Scheduler, SchedulerConfig};
use crate::triggers::webhooks::WebhookService;

/// The adapters the services run on.
#[allow(missing_debug_implementations)] // trait objects only
pub struct Adapters {
    /// Repositories, clock and ids.
    pub deps: Deps,
    /// Starts agents.
    pub runner: Arc<dyn AgentRunner>,
    /// Sessions' working directories.
    pub workspaces: Arc<dyn Workspaces>,
    /// Where report files are kept.
    pub report_files: Arc<dyn ReportFiles>,
    /// Turns reports into documents (`overseer_reports::DocumentRenderer`).
    pub report_renderer: Arc<dyn ReportRenderer>,
    /// When schedules tick (`overseer_calendar::CronCalendar`).
    pub calendar: Arc<dyn ScheduleCalendar>,
    /// This node's own subscribers.
    pub broadcaster: Arc<dyn EventBroadcaster>,
    /// Where measurements go.
    pub telemetry: Arc<dyn Telemetry>,
    /// The other nodes on the same database, if any: live events and session commands
    /// travel over it. `None` means this node is its database's only writer: tasks read by
    /// id are then cached in memory (a write elsewhere would not be seen).
    pub cluster: Option<Arc<dyn ClusterBus>>,
}

/// Tunables of the services layer.
#[derive(Clone, Debug)]
pub struct ServicesConfig {
    /// The live agents' pool.
    pub pool: PoolConfig,
    /// An unanswered approval is denied after this long.
    pub approval_timeout: Duration,
    /// This node's part in the execution queue (limits, slots, leases).
    pub queue: QueueConfig,
    /// MCP servers every session gets (lowest precedence).
    pub built_in_mcp_servers: BTreeMap<McpServerName, McpServerConfig>,
    /// After a cancel's interrupt, how long a running turn may take to end before its agent
    /// is stopped.
    pub cancel_grace: Duration,
    /// How long an execution may run when its task sets no timeout.
    pub default_execution_timeout: Duration,
    /// Quota limits for users who have none of their own (unset: unlimited).
    pub default_quota: Quota,
    /// The scheduler.
    pub scheduler: SchedulerConfig,
    /// Agents started ahead of demand (off unless `max_agents` > 0).
    pub warm: WarmPoolConfig,
    /// Interactive sessions a user may have open at once.
    pub max_open_sessions: u32,
    /// What tasks' and sessions' options may ask for: extra directories (`add_dirs`) and
    /// built-in tool servers (`builtin_servers`); none of either by default.
    pub option_rules: OptionRules,
    /// Whether this node can run agents (found at start-up); ready by default.
    pub agent_runtime: AgentRuntime,
    /// Passes each turn's trace context to the agent as `TRACEPARENT` (off by default).
    pub trace_propagation: TracePropagation,
}

impl ServicesConfig {
    /// How long an execution may run when its task sets no timeout.
    pub const DEFAULT_EXECUTION_TIMEOUT: Duration = Duration::from_secs(30 * 60);
    /// Interactive sessions a user may have open at once.
    pub const DEFAULT_MAX_OPEN_SESSIONS: u32 = 20;
}

impl Default for ServicesConfig {
    fn default() -> Self {
        Self {
            pool: PoolConfig::default(),
            approval_timeout: Duration::from_secs(300),
            queue: QueueConfig::default(),
            built_in_mcp_servers: BTreeMap::new(),
            cancel_grace: Duration::from_secs(10),
            default_execution_timeout: Self::DEFAULT_EXECUTION_TIMEOUT,
            default_quota: Quota::default(),
            scheduler: SchedulerConfig::default(),
            warm: WarmPoolConfig::default(),
            max_open_sessions: Self::DEFAULT_MAX_OPEN_SESSIONS,
            option_rules: OptionRules::default(),
            agent_runtime: AgentRuntime::default(),
            trace_propagation: TracePropagation::default(),
        }
    }
}

/// Every service, wired.
#[derive(Clone)]
pub struct Services {
    /// Tasks and their runs.
    pub tasks: Arc<TaskService>,
    /// Sessions and turns.
    pub sessions: Arc<SessionService>,
    /// Reports.
    pub reports: Arc<ReportService>,
    /// Approvals.
    pub approvals: Arc<ApprovalGate>,
    /// The audit trail.
    pub audit: AuditService,
    /// The live agents.
    pub pool: Arc<AgentPool>,
    /// The warm agents.
    pub warm: Arc<WarmPool>,
    /// Registered MCP servers.
    pub mcp_servers: Arc<McpServerService>,
    /// Quotas.
    pub quotas: Arc<QuotaService>,
    /// Inbound webhooks.
    pub webhooks: Arc<WebhookService>,
    /// This node's scheduler.
    pub scheduler: Arc<Scheduler>,
    /// This node's queue worker.
    pub worker: Arc<QueueWorker>,
    /// Whether this node can run agents (for `/health`).
    pub agent_runtime: AgentRuntime,
    /// Owners without a password, by name.
    pub service_accounts: Arc<ServiceAccounts>,
    /// Notification targets and their deliveries.
    pub notifications: Arc<NotificationService>,
    shutdown: Arc<Shutdown>,
    /// What [`Services::start`] needs beyond the services themselves.
    background: Background,
}

/// What the background loops are started from.
#[derive(Clone)]
struct Background {
    repos: overseer_ports::Repositories,
    /// What the outbox worker reads with.
    deps: Deps,
    relay: Option<Relay>,
    warm_expiry: Option<Duration>,
}

#[derive(Clone)]
struct Relay {
    link: ClusterLink,
    local: Arc<dyn EventBroadcaster>,
    commands: Arc<SessionCommands>,
}

/// The background loops of one node, started by [`Services::start`]. Dropping it leaves them
/// running (they end with the services or at shutdown); [`Running::stop`] ends them now.
#[derive(Debug)]
#[must_use = "the background loops' handles: keep them to stop the loops"]
pub struct Running {
    tasks: Vec<(&'static str, tokio::task::JoinHandle<()>)>,
}

impl Running {
    /// The names of the loops that were started, in start order.
    #[must_use]
    pub fn names(&self) -> Vec<&'static str> {
        self.tasks.iter().map(|(name, _)| *name).collect()
    }

    /// Takes `task` (a loop started outside [`Services::start`], such as the outbox) to stop
    /// with the others.
    pub fn adopt(&mut self, name: &'static str, task: tokio::task::JoinHandle<()>) {
        self.tasks.push((name, task));
    }

    /// Stops every loop and waits until each has ended.
    pub async fn stop(self) {
        for (_, task) in &self.tasks {
            task.abort();
        }
        for (name, task) in self.tasks {
            if let Err(err) = task.await
                && !err.is_cancelled()
            {
                tracing::warn!(task = name, error = %err, "a background loop failed");
            }
        }
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

impl Services {
    /// Wires every service from `adapters` and `config`. Pure: nothing is spawned and no
    /// runtime is needed; [`Services::start`] starts the background loops.
    #[must_use]
    pub fn build(adapters: Adapters, config: ServicesConfig) -> Self {
        let execution_watch = ExecutionWatch::default();
        let mut deps = adapters.deps;
        // Alone on its database, this node sees every write to a task: reads can be cached.
        if adapters.cluster.is_none() {
            deps.repos.tasks = Arc::new(CachedTasks::new(deps.repos.tasks.clone(), CACHED_TASKS));
        }
        let notifications = NotificationService::new(deps.clone(), AuditService::new(deps.clone()));
        // Every ending written through the repository queues its notices, then wakes waiters.
        let notices = ExecutionNotices::new(deps.repos.clone(), notifications.clone());
        deps.repos.executions =
            execution_watch.watching(deps.repos.executions.clone(), Some(Arc::new(notices)));
        let audit = AuditService::new(deps.clone());
        let outbox_deps = deps.clone();
        let node = config.queue.node_id.clone();
        let cluster = adapters
            .cluster
            .map(|bus| ClusterLink::new(bus, node.clone()));
        let local = adapters.broadcaster;
        // What this node publishes also goes to the other nodes' subscribers.
        let broadcaster: Arc<dyn EventBroadcaster> = match &cluster {
            Some(link) => Arc::new(RelayingBroadcaster::new(local.clone(), link.bus())),
            None => local.clone(),
        };
        let approvals = Arc::new(
            ApprovalGate::new(
                deps.clone(),
                audit.clone(),
                broadcaster.clone(),
                config.approval_timeout,
            )
            .with_cluster(cluster.clone())
            .with_notifications(notifications.clone()),
        );
        let warm = WarmPool::new(
            adapters.runner.clone(),
            adapters.workspaces.clone(),
            deps.ids.clone(),
            config.warm,
            AgentSlots::new(config.pool.max_live),
        );
        let pool = AgentPool::with_warm(
            adapters.runner,
            config.pool,
            warm.clone(),
            adapters.telemetry.clone(),
        );
        let option_rules = config.option_rules;
        let traces = TraceSpans::default();
        let quotas = Arc::new(QuotaService::new(deps.clone(), config.default_quota));
        let sessions = Arc::new(SessionService::new(SessionServiceParts {
            deps: deps.clone(),
            pool: pool.clone(),
            warm: warm.clone(),
            workspaces: adapters.workspaces,
            broadcaster,
            mcp: McpConfigBuilder::new(config.built_in_mcp_servers),
            approvals: approvals.clone(),
            telemetry: adapters.telemetry.clone(),
            quotas: quotas.clone(),
            node: node.clone(),
            cluster: cluster.clone(),
            max_open_sessions: config.max_open_sessions,
            option_rules: option_rules.clone(),
            runtime: config.agent_runtime.clone(),
            traces: traces.clone(),
            trace_propagation: config.trace_propagation.clone(),
        }));
        let deps_repos = deps.repos.clone();
        let relay = cluster.as_ref().map(|link| Relay {
            link: link.clone(),
            local,
            commands: Arc::new(SessionCommands {
                node,
                sessions: sessions.clone(),
                approvals: approvals.clone(),
            }),
        });
        let reports = Arc::new(ReportService::new(
            deps.clone(),
            adapters.report_files,
            adapters.report_renderer,
        ));
        let stops = Arc::new(StopRequests::default());
        let shutdown = Arc::new(Shutdown::default());
        let runner = Arc::new(
            ExecutionRunner::new(
                deps.clone(),
                sessions.clone(),
                reports.clone(),
                stops.clone(),
                adapters.telemetry,
                shutdown.clone(),
                RunLimits {
                    default_timeout: config.default_execution_timeout,
                    stop_grace: config.cancel_grace,
                },
            )
            .with_traces(traces.clone()),
        );
        let worker = QueueWorker::new(
            deps.clone(),
            runner,
            sessions.clone(),
            config.queue,
            shutdown.clone(),
        );
        let queue: Arc<dyn overseer_ports::ExecutionQueue> = worker.clone();
        let mcp_servers = Arc::new(McpServerService::new(deps.clone()));
        let tasks = Arc::new(
            TaskService::new(
                deps.clone(),
                queue,
                quotas.clone(),
                adapters.calendar.clone(),
            )
            .with_cancellation(sessions.clone(), stops, config.cancel_grace)
            .with_option_rules(option_rules)
            .with_agent_runtime(config.agent_runtime.clone())
            .with_traces(traces.clone())
            .with_execution_watch(execution_watch.clone()),
        );
        let scheduler = Scheduler::new(
            deps.clone(),
            tasks.clone(),
            adapters.calendar,
            config.scheduler,
            shutdown.clone(),
        );
        Self {
            scheduler,
            service_accounts: Arc::new(ServiceAccounts::new(deps.clone())),
            notifications: Arc::new(notifications),
            webhooks: Arc::new(WebhookService::new(deps, tasks.clone())),
            tasks,
            quotas,
            sessions,
            reports,
            approvals,
            audit,
            pool,
            warm,
            mcp_servers,
            worker,
            agent_runtime: config.agent_runtime,
            shutdown,
            background: Background {
                repos: deps_repos,
                deps: outbox_deps,
                relay,
                warm_expiry: (config.warm.max_agents > 0).then(|| {
                    (config.warm.max_age / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
                }),
            },
        }
    }

    /// Starts this node's background loops: the queue worker (claims, lease heartbeats,
    /// recovery of lost leases), the scheduler, the idle-agent evictor, the warm pool's expiry
    /// (with warm agents) and the relay from other nodes (on a cluster). Building is pure; a
    /// test or an embedder starts only what it needs by not calling this, or calls the parts'
    /// own `start` functions.
    ///
    /// # Panics
    /// Outside a tokio runtime (it spawns).
    pub fn start(&self) -> Running {
        let mut tasks: Vec<(&'static str, tokio::task::JoinHandle<()>)> = Vec::new();
        for task in self.worker.start() {
            tasks.push(("queue worker", task));
        }
        if let Some(task) = self.scheduler.start() {
            tasks.push(("scheduler", task));
        }
        // Every second: idle agents past the idle timeout hibernate, and an idle agent whose
        // slot a start waits for (one that was answering its host when its turn ended) gives
        // it up.
        tasks.push((
            "agent evictor",
            self.pool.spawn_evictor(Duration::from_secs(1)),
        ));
        if let Some(every) = self.background.warm_expiry {
            tasks.push(("warm pool expiry", self.warm.spawn_expiry(every)));
        }
        if let Some(relay) = &self.background.relay {
            tasks.push((
                "cluster relay",
                relay_from_other_nodes(
                    relay.link.bus().as_ref(),
                    self.background.repos.clone(),
                    relay.local.clone(),
                    relay.commands.clone(),
                ),
            ));
        }
        Running { tasks }
    }

    /// The outbox worker of this node, sending with `sender`; start it with
    /// [`Outbox::spawn`]. Several nodes may each run one: a delivery is leased by one at a
    /// time.
    #[must_use]
    pub fn outbox(&self, sender: Arc<dyn NotificationSender>, config: OutboxConfig) -> Arc<Outbox> {
        Arc::new(Outbox::new(self.background.deps.clone(), sender, config))
    }

    /// Stops taking runs, gives the running ones up to `grace` to finish, then stops every
    /// agent: runs cut short fail with the reason "shutdown"; runs that never started stay
    /// `pending`.
    pub async fn shutdown(&self, grace: std::time::Duration) {
        self.shutdown.begin();
        let deadline = tokio::time::Instant::now() + grace;
        while self.worker.running() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.warm.close_all().await;
        self.pool.close_all().await;
        // Let the runs that lost their agent record it.
        let settle = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.worker.running() > 0 && tokio::time::Instant::now() < settle {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
