use async_trait::async_trait;
use overseer_domain::{Delivery, ExecutionId, ExecutionStatus, TaskExecution, TaskId};
use time::OffsetDateTime;

use crate::{Page, PageRequest, RepoError, Scope};

/// Bounds a claim must respect, counted over every node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimLimits {
    /// Running executions at most, in all.
    pub global: u32,
    /// Running executions at most per user.
    pub per_user: u32,
}

/// What settling expired leases did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recovered {
    /// Back to `pending`: their agent had not started.
    pub requeued: Vec<ExecutionId>,
    /// Now `failed`: their agent had started (their sessions must be failed too).
    pub failed: Vec<TaskExecution>,
}

/// Which running executions' leases are lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LostLeases {
    /// Leases that expired before `now`: their node stopped heartbeating.
    Expired,
    /// Every lease of this node name: a previous life of a node restarting under that name.
    HeldBy(String),
}

/// Narrows an execution list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecutionFilter {
    /// Only this task's runs.
    pub task_id: Option<TaskId>,
    /// Only runs in this status.
    pub status: Option<ExecutionStatus>,
}

/// Task runs, and the queue they wait in.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ExecutionRepository: Send + Sync {
    /// Stores a new execution.
    ///
    /// # Errors
    /// `AlreadyExists` if the id is taken, or a run of the task already has its `scheduled_for`;
    /// `NotFound` if its task or user does not exist.
    async fn insert(&self, execution: &TaskExecution) -> Result<(), RepoError>;

    /// # Errors
    /// `NotFound` if it does not exist or is outside `scope`.
    async fn get(&self, id: ExecutionId, scope: Scope) -> Result<TaskExecution, RepoError>;

    /// The latest tick a scheduled run of `task` was created for.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn last_scheduled_for(&self, task: TaskId) -> Result<Option<OffsetDateTime>, RepoError>;

    /// Executions in `scope` matching `filter`, newest first.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list(
        &self,
        scope: Scope,
        filter: ExecutionFilter,
        page: PageRequest,
    ) -> Result<Page<TaskExecution>, RepoError>;

    /// Writes the status and every field a transition sets (session, error, times, duration,
    /// result message, report) if the stored status is still `expected`.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` if the stored status is not `expected`.
    async fn update(
        &self,
        execution: &TaskExecution,
        expected: ExecutionStatus,
    ) -> Result<(), RepoError> {
        self.update_with(execution, expected, &[]).await
    }

    /// [`ExecutionRepository::update`], and the `outbox` deliveries in the same transaction:
    /// both are written, or neither (a `Conflict` writes nothing).
    ///
    /// # Errors
    /// As `update`; `NotFound` also when a delivery's target does not exist.
    async fn update_with(
        &self,
        execution: &TaskExecution,
        expected: ExecutionStatus,
        outbox: &[Delivery],
    ) -> Result<(), RepoError>;

    /// Claims the next `pending` execution for `node` and returns it `running` (`started_at` =
    /// `now`) with a lease until `lease_until`. Fair share: the pending run of the user with
    /// the fewest running runs goes first; among equals, the user served least recently (the
    /// latest `started_at`, never served first); then the oldest run. Never exceeds `limits`, even with claims racing from
    /// several nodes; never hands one execution to two claimers.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn claim_next(
        &self,
        node: &str,
        limits: ClaimLimits,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<TaskExecution>, RepoError>;

    /// Extends the leases `node` holds on `executions`; returns how many it still holds.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn heartbeat(
        &self,
        node: &str,
        executions: &[ExecutionId],
        lease_until: OffsetDateTime,
    ) -> Result<u64, RepoError>;

    /// Settles the running executions whose lease is `lost`: those whose agent had not started
    /// go back to `pending`; the others fail with `reason`.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn recover_lost(
        &self,
        lost: LostLeases,
        now: OffsetDateTime,
        reason: &str,
    ) -> Result<Recovered, RepoError>;
}
