//! The queue worker of one node: claims pending executions from the database when it has a
//! free slot, runs them, keeps their leases alive, and settles other nodes' expired leases.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use overseer_domain::ExecutionId;
use overseer_ports::repositories::{ClaimLimits, LostLeases};
use overseer_ports::{ExecutionQueue, QueueError};
use tokio::sync::{Notify, Semaphore};

use crate::cluster::link::NODE_LOST;
use crate::context::Deps;
use crate::executions::executor::{ExecutionRunner, Shutdown};
use crate::sessions::SessionService;

/// The shortest heartbeat or recovery period, whatever the lease (a zero period would spin).
const MIN_PERIOD: Duration = Duration::from_millis(10);

/// How this node takes part in the queue.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// This node's name in leases (unique per running process).
    pub node_id: String,
    /// Limits over every node.
    pub limits: ClaimLimits,
    /// Runs this node takes at once.
    pub node_slots: usize,
    /// How long a claim holds without a heartbeat.
    pub lease: Duration,
    /// How often to look for work when nothing wakes the worker.
    pub poll: Duration,
}

impl QueueConfig {
    /// Executions running at once over every node.
    pub const DEFAULT_MAX_RUNNING_TOTAL: u32 = 8;
    /// Executions running at once per user, over every node.
    pub const DEFAULT_MAX_RUNNING_PER_USER: u32 = 4;
    /// Executions this node runs at once.
    pub const DEFAULT_NODE_SLOTS: usize = 4;
    /// How long a claim holds without a heartbeat.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            node_id: format!("node-{}", uuid::Uuid::new_v4().simple()),
            limits: ClaimLimits {
                global: Self::DEFAULT_MAX_RUNNING_TOTAL,
                per_user: Self::DEFAULT_MAX_RUNNING_PER_USER,
            },
            node_slots: Self::DEFAULT_NODE_SLOTS,
            lease: Self::DEFAULT_LEASE,
            poll: Duration::from_secs(1),
        }
    }
}

pub struct QueueWorker {
    deps: Deps,
    runner: Arc<ExecutionRunner>,
    sessions: Arc<SessionService>,
    config: QueueConfig,
    wake: Notify,
    slots: Arc<Semaphore>,
    running: Mutex<HashSet<ExecutionId>>,
    shutdown: Arc<Shutdown>,
    /// When this life of the node began: what it finds in flight from before is its previous
    /// life's.
    started: time::OffsetDateTime,
}

impl std::fmt::Debug for QueueWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueWorker")
            .field("node", &self.config.node_id)
            .field("running", &self.running())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl QueueWorker {
    #[must_use]
    pub fn new(
        deps: Deps,
        runner: Arc<ExecutionRunner>,
        sessions: Arc<SessionService>,
        config: QueueConfig,
        shutdown: Arc<Shutdown>,
    ) -> Arc<Self> {
        Arc::new(Self {
            started: deps.clock.now(),
            slots: Arc::new(Semaphore::new(config.node_slots.max(1))),
            deps,
            runner,
            sessions,
            config,
            wake: Notify::new(),
            running: Mutex::new(HashSet::new()),
            shutdown,
        })
    }

    /// How many runs this node has now.
    #[must_use]
    pub fn running(&self) -> usize {
        lock(&self.running).len()
    }

    #[must_use]
    pub fn node_id(&self) -> &str {
        &self.config.node_id
    }

    /// Starts the claim, heartbeat and recovery loops (they end with the worker or shutdown).
    pub fn start(self: &Arc<Self>) -> [tokio::task::JoinHandle<()>; 3] {
        let weak = Arc::downgrade(self);
        [
            tokio::spawn(Self::claim_loop(weak.clone())),
            tokio::spawn(Self::heartbeat_loop(weak.clone())),
            tokio::spawn(Self::recovery_loop(weak)),
        ]
    }

    async fn claim_loop(worker: Weak<Self>) {
        // This node's previous life (same name, after a crash) owns no live run: settle its
        // leases now rather than when they expire, and before claiming under the same name.
        if let Some(this) = worker.upgrade() {
            let previous_life = LostLeases::HeldBy(this.config.node_id.clone());
            this.recover(previous_life).await;
            this.sessions.settle_own_restart(this.started).await;
        }
        loop {
            let Some(this) = worker.upgrade() else { return };
            if this.shutdown.started() {
                return;
            }
            let Ok(slot) = this.slots.clone().acquire_owned().await else {
                return;
            };
            let now = this.deps.clock.now();
            let claimed = this
                .deps
                .repos
                .executions
                .claim_next(
                    &this.config.node_id,
                    this.config.limits,
                    now,
                    now + this.config.lease,
                )
                .await;
            match claimed {
                Ok(Some(execution)) => {
                    lock(&this.running).insert(execution.id);
                    let runner_worker = Arc::downgrade(&this);
                    let runner = this.runner.clone();
                    tokio::spawn(async move {
                        let id = execution.id;
                        runner.run_claimed(execution).await;
                        drop(slot);
                        if let Some(worker) = runner_worker.upgrade() {
                            lock(&worker.running).remove(&id);
                            worker.wake.notify_one();
                        }
                    });
                }
                Ok(None) => {
                    drop(slot);
                    // A submission meanwhile left a permit in `wake`: nothing is missed.
                    let _ = tokio::time::timeout(this.config.poll, this.wake.notified()).await;
                }
                Err(err) => {
                    drop(slot);
                    tracing::warn!(error = %err, "claiming an execution failed");
                    let poll = this.config.poll;
                    drop(this);
                    tokio::time::sleep(poll).await;
                }
            }
        }
    }

    async fn heartbeat_loop(worker: Weak<Self>) {
        let Some(period) = worker
            .upgrade()
            .map(|w| (w.config.lease / 3).max(MIN_PERIOD))
        else {
            return;
        };
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            let Some(this) = worker.upgrade() else { return };
            let ids: Vec<ExecutionId> = lock(&this.running).iter().copied().collect();
            let until = this.deps.clock.now() + this.config.lease;
            if let Err(err) = this
                .deps
                .repos
                .executions
                .heartbeat(&this.config.node_id, &ids, until)
                .await
            {
                tracing::warn!(error = %err, "lease heartbeat failed");
            }
        }
    }

    async fn recovery_loop(worker: Weak<Self>) {
        let Some(period) = worker
            .upgrade()
            .map(|w| (w.config.lease / 2).max(MIN_PERIOD))
        else {
            return;
        };
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            let Some(this) = worker.upgrade() else { return };
            this.recover(LostLeases::Expired).await;
            this.sessions.settle_lost_nodes().await;
        }
    }

    /// Settles lost leases: unstarted runs go back to the queue, started ones (and their
    /// sessions) fail with "node lost".
    pub async fn recover(&self, lost: LostLeases) {
        let now = self.deps.clock.now();
        match self
            .deps
            .repos
            .executions
            .recover_lost(lost, now, NODE_LOST)
            .await
        {
            Ok(recovered) => {
                for failed in &recovered.failed {
                    if let Some(session) = failed.session_id {
                        self.sessions.fail(session, NODE_LOST).await;
                    }
                }
                if !recovered.requeued.is_empty() {
                    self.wake.notify_one();
                }
                if !recovered.failed.is_empty() || !recovered.requeued.is_empty() {
                    tracing::warn!(
                        requeued = recovered.requeued.len(),
                        failed = recovered.failed.len(),
                        "settled executions of a lost node"
                    );
                }
            }
            Err(err) => tracing::warn!(error = %err, "lease recovery failed"),
        }
    }
}

#[async_trait]
impl ExecutionQueue for QueueWorker {
    /// The run is already stored `pending`: wake the claim loop.
    async fn submit(&self, _execution: ExecutionId) -> Result<(), QueueError> {
        if self.shutdown.started() {
            return Err(QueueError::ShutDown);
        }
        self.wake.notify_one();
        Ok(())
    }
}
