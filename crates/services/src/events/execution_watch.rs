//! Tells waiters in this process when an execution has ended, so `Prefer: wait` answers at
//! once instead of polling. It watches the one place every ending goes through: the execution
//! repository's writes. Endings written by other nodes are not seen here; waiters also re-read
//! the row now and then.

use std::sync::Arc;

use async_trait::async_trait;
use overseer_domain::{Delivery, ExecutionId, ExecutionStatus, TaskExecution, TaskId};
use overseer_ports::repositories::{
    ClaimLimits, ExecutionFilter, ExecutionRepository, LostLeases, Recovered,
};
use overseer_ports::{Page, PageRequest, RepoError, Scope};
use time::OffsetDateTime;
use tokio::sync::broadcast;

/// Executions that ended, as they end.
#[derive(Clone, Debug)]
pub struct ExecutionWatch {
    ended: broadcast::Sender<ExecutionId>,
}

impl Default for ExecutionWatch {
    fn default() -> Self {
        // A waiter that lags only re-reads its row sooner: the capacity is not critical.
        let (ended, _) = broadcast::channel(1024);
        Self { ended }
    }
}

impl ExecutionWatch {
    /// From now on, the ids of the executions that end.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<ExecutionId> {
        self.ended.subscribe()
    }

    fn ended(&self, id: ExecutionId) {
        // No receiver: nobody waits.
        let _ = self.ended.send(id);
    }

    /// `executions` that reports every ending it writes to `listener` (first) and to this
    /// watch.
    #[must_use]
    pub fn watching(
        &self,
        executions: Arc<dyn ExecutionRepository>,
        listener: Option<Arc<dyn EndingListener>>,
    ) -> Arc<dyn ExecutionRepository> {
        Arc::new(Watched {
            inner: executions,
            watch: self.clone(),
            listener,
        })
    }
}

/// Hears every ending written through a watched repository, on the writer's task.
#[async_trait]
pub trait EndingListener: Send + Sync {
    /// The outbox deliveries for `execution`, about to be stored in a terminal status: they
    /// are written in the ending's own transaction.
    async fn notices(&self, execution: &TaskExecution) -> Vec<Delivery>;

    /// Queues `deliveries` of an ending that was written without them (a lost node's runs,
    /// failed in bulk by recovery).
    async fn enqueue(&self, deliveries: &[Delivery]);
}

struct Watched {
    inner: Arc<dyn ExecutionRepository>,
    watch: ExecutionWatch,
    listener: Option<Arc<dyn EndingListener>>,
}

#[async_trait]
impl ExecutionRepository for Watched {
    async fn insert(&self, execution: &TaskExecution) -> Result<(), RepoError> {
        self.inner.insert(execution).await
    }

    async fn get(&self, id: ExecutionId, scope: Scope) -> Result<TaskExecution, RepoError> {
        self.inner.get(id, scope).await
    }

    async fn last_scheduled_for(&self, task: TaskId) -> Result<Option<OffsetDateTime>, RepoError> {
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
        outbox: &[Delivery],
    ) -> Result<(), RepoError> {
        if !execution.status().is_terminal() {
            return self.inner.update_with(execution, expected, outbox).await;
        }
        let mut deliveries = outbox.to_vec();
        if let Some(listener) = &self.listener {
            deliveries.extend(listener.notices(execution).await);
        }
        self.inner
            .update_with(execution, expected, &deliveries)
            .await?;
        self.watch.ended(execution.id);
        Ok(())
    }

    async fn claim_next(
        &self,
        node: &str,
        limits: ClaimLimits,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<TaskExecution>, RepoError> {
        self.inner.claim_next(node, limits, now, lease_until).await
    }

    async fn heartbeat(
        &self,
        node: &str,
        executions: &[ExecutionId],
        lease_until: OffsetDateTime,
    ) -> Result<u64, RepoError> {
        self.inner.heartbeat(node, executions, lease_until).await
    }

    async fn recover_lost(
        &self,
        lost: LostLeases,
        now: OffsetDateTime,
        reason: &str,
    ) -> Result<Recovered, RepoError> {
        let recovered = self.inner.recover_lost(lost, now, reason).await?;
        for failed in &recovered.failed {
            if let Some(listener) = &self.listener {
                listener.enqueue(&listener.notices(failed).await).await;
            }
            self.watch.ended(failed.id);
        }
        Ok(recovered)
    }
}

#[cfg(test)]
mod tests {
    use overseer_testkit::{MemoryStore, fixtures};

    use super::*;

    #[tokio::test]
    async fn an_ending_written_through_the_repository_is_announced_once() {
        let repos = MemoryStore::new().repositories();
        let owner = fixtures::user("w@example.com");
        repos.users.insert(&owner).await.unwrap();
        let task = fixtures::task(owner.id, "t", fixtures::EPOCH);
        repos.tasks.insert(&task).await.unwrap();
        let watch = ExecutionWatch::default();
        let executions = watch.watching(repos.executions.clone(), None);
        let mut ended = watch.subscribe();

        let mut run = fixtures::execution(&task, fixtures::EPOCH);
        executions.insert(&run).await.unwrap();
        let from = run.cancel(fixtures::EPOCH).unwrap();
        executions.update(&run, from).await.unwrap();
        assert_eq!(ended.try_recv().unwrap(), run.id);
        assert!(ended.try_recv().is_err(), "announced once");
    }

    /// Hands back one delivery to `target` per ending.
    struct OneNotice(overseer_domain::NotificationTarget);

    #[async_trait]
    impl EndingListener for OneNotice {
        async fn notices(&self, _execution: &TaskExecution) -> Vec<Delivery> {
            vec![fixtures::delivery(&self.0, 1)]
        }

        async fn enqueue(&self, _deliveries: &[Delivery]) {
            unreachable!("only recovery enqueues on its own");
        }
    }

    #[tokio::test]
    async fn an_endings_notices_are_written_with_it_and_a_lost_race_writes_none() {
        let repos = MemoryStore::new().repositories();
        let owner = fixtures::user("n@example.com");
        repos.users.insert(&owner).await.unwrap();
        let task = fixtures::task(owner.id, "t", fixtures::EPOCH);
        repos.tasks.insert(&task).await.unwrap();
        let target = fixtures::notification_target(
            owner.id,
            Some(owner.id),
            &[overseer_domain::NotificationEvent::ExecutionFinished],
            0,
        );
        repos.notifications.insert_target(&target).await.unwrap();
        let watch = ExecutionWatch::default();
        let listener = Arc::new(OneNotice(target.clone()));
        let executions = watch.watching(repos.executions.clone(), Some(listener));
        let queued = || async {
            repos
                .notifications
                .list_deliveries(target.id, PageRequest::first(10))
                .await
                .unwrap()
                .total
        };

        let mut run = fixtures::execution(&task, fixtures::EPOCH);
        executions.insert(&run).await.unwrap();
        let mut late = run.clone();
        let from = run.cancel(fixtures::EPOCH).unwrap();
        executions.update(&run, from).await.unwrap();
        assert_eq!(queued().await, 1, "written with the ending");
        let from = late.fail("too late".to_owned(), fixtures::EPOCH).unwrap();
        assert!(matches!(
            executions.update(&late, from).await,
            Err(RepoError::Conflict { .. })
        ));
        assert_eq!(queued().await, 1, "a lost race writes no notice");
    }
}
