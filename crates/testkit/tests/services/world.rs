//! A whole Overseer below HTTP: real adapters (store, files, CLI runner) wired to the services,
//! with recorders for what the tests check.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use overseer_domain::{ExecutionId, ExecutionStatus, TaskExecution, User};
use overseer_files::{LocalReportFiles, LocalWorkspaces};
use overseer_ports::agent::Secret;
use overseer_ports::repositories::{
    ClaimLimits, ExecutionFilter, ExecutionRepository, LostLeases, Recovered,
};
use overseer_ports::{
    EventBroadcaster, LiveEvent, Page, PageRequest, RepoError, Repositories, Scope,
};
use overseer_runner_claude::{ClaudeConfig, ClaudeRunner};
use overseer_services::ApprovalGate;
use overseer_services::QueueConfig;
use overseer_services::ReportService;
use overseer_services::SessionService;
use overseer_services::TaskService;
use overseer_services::{Adapters, Deps, PoolConfig, RequestContext, Services, ServicesConfig};
use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::fixtures;
use overseer_testkit::script::{Script, first_user_text};
use serde_json::Value;
use tokio::sync::mpsc;

/// Records every live event, and forwards approval requests to the test.
pub struct RecordingBroadcaster {
    pub events: Mutex<Vec<LiveEvent>>,
    pub approvals: mpsc::UnboundedSender<LiveEvent>,
}

impl EventBroadcaster for RecordingBroadcaster {
    fn publish(&self, event: LiveEvent) {
        if event.kind().as_str() == "approval" {
            let _ = self.approvals.send(event.clone());
        }
        self.events.lock().unwrap().push(event);
    }
}

/// Records each execution status written, and the order of claims.
pub struct RecordingExecutions {
    pub inner: Arc<dyn ExecutionRepository>,
    pub statuses: Mutex<Vec<ExecutionStatus>>,
    pub claims: Mutex<Vec<ExecutionId>>,
}

#[async_trait]
impl ExecutionRepository for RecordingExecutions {
    async fn insert(&self, execution: &TaskExecution) -> Result<(), RepoError> {
        self.inner.insert(execution).await?;
        self.statuses.lock().unwrap().push(execution.status());
        Ok(())
    }
    async fn get(&self, id: ExecutionId, scope: Scope) -> Result<TaskExecution, RepoError> {
        self.inner.get(id, scope).await
    }
    async fn last_scheduled_for(
        &self,
        task: overseer_domain::TaskId,
    ) -> Result<Option<time::OffsetDateTime>, RepoError> {
        self.inner.last_scheduled_for(task).await
    }
    async fn list(
        &self,
        scope: Scope,
        filter: ExecutionFilter,
        page: PageRequest,
    ) -> Result<Page<TaskExecution>, RepoError> {
        self.inner.list(scope, filter, page).await
    }
    async fn update_with(
        &self,
        execution: &TaskExecution,
        expected: ExecutionStatus,
        outbox: &[overseer_domain::Delivery],
    ) -> Result<(), RepoError> {
        self.inner.update_with(execution, expected, outbox).await?;
        let mut statuses = self.statuses.lock().unwrap();
        if statuses.last() != Some(&execution.status()) {
            statuses.push(execution.status());
        }
        Ok(())
    }
    async fn claim_next(
        &self,
        node: &str,
        limits: ClaimLimits,
        now: time::OffsetDateTime,
        lease_until: time::OffsetDateTime,
    ) -> Result<Option<TaskExecution>, RepoError> {
        let claimed = self
            .inner
            .claim_next(node, limits, now, lease_until)
            .await?;
        if let Some(run) = &claimed {
            self.statuses.lock().unwrap().push(run.status());
            self.claims.lock().unwrap().push(run.id);
        }
        Ok(claimed)
    }
    async fn heartbeat(
        &self,
        node: &str,
        executions: &[ExecutionId],
        lease_until: time::OffsetDateTime,
    ) -> Result<u64, RepoError> {
        self.inner.heartbeat(node, executions, lease_until).await
    }
    async fn recover_lost(
        &self,
        lost: LostLeases,
        now: time::OffsetDateTime,
        reason: &str,
    ) -> Result<Recovered, RepoError> {
        self.inner.recover_lost(lost, now, reason).await
    }
}

/// A world that is one node of several.
struct Membership {
    node: String,
    bus: Arc<dyn overseer_ports::ClusterBus>,
    owner: Option<User>,
}

pub enum Backend {
    FakeCli,
    RealCli,
}

pub struct World {
    pub services: Services,
    pub repos: Repositories,
    pub tasks: Arc<TaskService>,
    pub sessions: Arc<SessionService>,
    pub reports: Arc<ReportService>,
    pub approvals: Arc<ApprovalGate>,
    pub broadcaster: Arc<RecordingBroadcaster>,
    pub approval_events: tokio::sync::Mutex<mpsc::UnboundedReceiver<LiveEvent>>,
    pub executions: Arc<RecordingExecutions>,
    pub data_dir: PathBuf,
    pub owner: User,
    model_log: Option<PathBuf>,
    api: Option<FakeAnthropic>,
}

fn default_pool() -> PoolConfig {
    PoolConfig {
        max_live: 4,
        idle_timeout: Duration::from_secs(60),
        ..PoolConfig::default()
    }
}

impl World {
    /// `None` when the real CLI is wanted but missing outside CI.
    pub async fn new(
        repos: Repositories,
        backend: Backend,
        scripts: Vec<Script>,
        approval_timeout: Duration,
    ) -> Option<Self> {
        Self::build(
            repos,
            backend,
            scripts,
            approval_timeout,
            None,
            default_pool(),
        )
        .await
    }

    /// On the fake CLI, with the agent pool bounded by `pool`.
    #[allow(dead_code)] // not every test binary that includes this module bounds its pool
    pub async fn with_pool(repos: Repositories, scripts: Vec<Script>, pool: PoolConfig) -> Self {
        Self::build(
            repos,
            Backend::FakeCli,
            scripts,
            Duration::from_secs(5),
            None,
            pool,
        )
        .await
        .unwrap()
    }

    /// Node `node` of a cluster: its own data directory and agents, the store of `repos`
    /// shared with the other nodes, and `owner` when another node already created it.
    #[allow(dead_code)] // not every test binary that includes this module runs a cluster
    pub async fn node(
        repos: Repositories,
        scripts: Vec<Script>,
        node: &str,
        cluster: &overseer_testkit::MemoryCluster,
        owner: Option<User>,
    ) -> Self {
        let membership = Membership {
            node: node.to_owned(),
            bus: cluster.join(node),
            owner,
        };
        Self::build(
            repos,
            Backend::FakeCli,
            scripts,
            // Long: an answer that travelled must not be mistaken for one read at expiry.
            Duration::from_secs(60),
            Some(membership),
            default_pool(),
        )
        .await
        .unwrap()
    }

    async fn build(
        repos: Repositories,
        backend: Backend,
        scripts: Vec<Script>,
        approval_timeout: Duration,
        membership: Option<Membership>,
        pool: PoolConfig,
    ) -> Option<Self> {
        let data_dir =
            std::env::temp_dir().join(format!("overseer-world-{}", fixtures::id().simple()));
        std::fs::create_dir_all(data_dir.join("home")).unwrap();
        let data_dir = data_dir.canonicalize().unwrap();
        let (binary, env, model_log, api) = match backend {
            Backend::FakeCli => {
                let log = data_dir.join("model-calls.jsonl");
                let env = BTreeMap::from([
                    (
                        "FAKE_CLAUDE_SCRIPTS".to_owned(),
                        Secret::new(serde_json::to_string(&scripts).unwrap()),
                    ),
                    (
                        "FAKE_CLAUDE_LOG".to_owned(),
                        Secret::new(log.display().to_string()),
                    ),
                ]);
                (
                    PathBuf::from(env!("CARGO_BIN_EXE_fake-claude")),
                    env,
                    Some(log),
                    None,
                )
            }
            Backend::RealCli => {
                let binary = overseer_testkit::cli::real_cli()?;
                let api = FakeAnthropic::start().await;
                for script in scripts {
                    api.script(script);
                }
                let env = BTreeMap::from([
                    ("ANTHROPIC_BASE_URL".to_owned(), Secret::new(api.base_url())),
                    (
                        "ANTHROPIC_API_KEY".to_owned(),
                        Secret::new("sk-ant-test-seed"),
                    ),
                    ("CLAUDE_CODE_MAX_RETRIES".to_owned(), Secret::new("0")),
                    (
                        "HOME".to_owned(),
                        Secret::new(data_dir.join("home").display().to_string()),
                    ),
                    (
                        "CLAUDE_CONFIG_DIR".to_owned(),
                        Secret::new(data_dir.join("claude-config").display().to_string()),
                    ),
                ]);
                (binary, env, None, Some(api))
            }
        };
        let runner: Arc<dyn overseer_ports::agent::AgentRunner> =
            Arc::new(ClaudeRunner::new(ClaudeConfig {
                binary,
                env,
                close_grace: Duration::from_secs(3),
                ..ClaudeConfig::default()
            }));
        let executions = Arc::new(RecordingExecutions {
            inner: repos.executions.clone(),
            statuses: Mutex::new(Vec::new()),
            claims: Mutex::new(Vec::new()),
        });
        let mut repos = repos;
        repos.executions = executions.clone();
        let deps = Deps::system(repos.clone());
        let (approvals_tx, approvals_rx) = mpsc::unbounded_channel();
        let broadcaster = Arc::new(RecordingBroadcaster {
            events: Mutex::new(Vec::new()),
            approvals: approvals_tx,
        });
        let adapters = Adapters {
            deps,
            runner,
            workspaces: Arc::new(LocalWorkspaces::new(&data_dir)),
            report_files: Arc::new(LocalReportFiles::new(&data_dir)),
            report_renderer: Arc::new(overseer_reports::DocumentRenderer),
            calendar: Arc::new(overseer_calendar::CronCalendar),
            broadcaster: broadcaster.clone(),
            telemetry: Arc::new(overseer_ports::NoTelemetry),
            cluster: membership.as_ref().map(|m| m.bus.clone()),
        };
        let config = ServicesConfig {
            pool,
            approval_timeout,
            queue: QueueConfig {
                node_slots: 2,
                limits: ClaimLimits {
                    global: 2,
                    per_user: 2,
                },
                poll: Duration::from_millis(50),
                node_id: membership
                    .as_ref()
                    .map_or_else(|| QueueConfig::default().node_id, |m| m.node.clone()),
                ..QueueConfig::default()
            },
            ..ServicesConfig::default()
        };
        let services = Services::build(adapters, config);
        // Runs need the queue worker; the loops end with the services.
        drop(services.start());
        let Services {
            tasks,
            sessions,
            reports,
            approvals,
            ..
        } = services.clone();
        let owner = match membership.and_then(|m| m.owner) {
            Some(owner) => owner,
            None => {
                let owner = fixtures::user("sre@example.com");
                repos.users.insert(&owner).await.unwrap();
                owner
            }
        };
        Some(Self {
            services,
            repos,
            tasks,
            sessions,
            reports,
            approvals,
            broadcaster,
            approval_events: tokio::sync::Mutex::new(approvals_rx),
            executions,
            data_dir,
            owner,
            model_log,
            api,
        })
    }

    pub fn ctx(&self) -> RequestContext {
        RequestContext {
            user_id: self.owner.id,
            is_admin: false,
            ip_address: Some("203.0.113.7".to_owned()),
            user_agent: Some("seed-test/1.0".to_owned()),
        }
    }

    /// Every conversation the model was asked about for `marker`.
    pub fn model_calls(&self, marker: &str) -> Vec<Vec<Value>> {
        let bodies: Vec<Value> = match (&self.model_log, &self.api) {
            (Some(log), _) => std::fs::read_to_string(log)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
            (None, Some(api)) => api.requests(),
            (None, None) => Vec::new(),
        };
        bodies
            .into_iter()
            .filter_map(|b| b.get("messages").and_then(Value::as_array).cloned())
            .filter(|m| first_user_text(m).contains(marker))
            .collect()
    }

    /// Waits until the run is over.
    pub async fn finished(&self, id: ExecutionId) -> TaskExecution {
        overseer_testkit::waits::run_finished(&self.repos, id, Duration::from_secs(90)).await
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
