//! [`Overseer`]: a started instance, and what an embedder does with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use overseer_domain::{ExecutionId, SessionId, TaskExecution, User};
use overseer_ports::{EventSubscriber, SubscribersFull};
use overseer_services::{RequestContext, Running, ServiceError, Services, SessionStream};
use overseer_store::Store;

use crate::execution_events::ExecutionEvents;

/// Live streams open at once on one session through [`Overseer::session_events`].
const MAX_SUBSCRIBERS_PER_SESSION: usize = 256;

/// A running instance: the services over its store, with their background loops. Use the
/// services ([`Overseer::services`]) for everything the REST API does; stop it with
/// [`Overseer::shutdown`].
pub struct Overseer {
    services: Services,
    store: Store,
    running: Running,
    subscriber: Arc<dyn EventSubscriber>,
    data_dir: PathBuf,
    node: String,
}

impl std::fmt::Debug for Overseer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overseer")
            .field("node", &self.node)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Overseer {
    pub(crate) fn new(
        services: Services,
        store: Store,
        running: Running,
        subscriber: Arc<dyn EventSubscriber>,
        data_dir: PathBuf,
        node: String,
    ) -> Self {
        Self {
            services,
            store,
            running,
            subscriber,
            data_dir,
            node,
        }
    }

    /// Every service: tasks, sessions, reports, approvals, audit, quotas …
    #[must_use]
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The migrated store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The data directory, absolute.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// This node's persistent name (kept in `<data_dir>/node-id`).
    #[must_use]
    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// Where live streams subscribe.
    #[must_use]
    pub fn subscriber(&self) -> Arc<dyn EventSubscriber> {
        self.subscriber.clone()
    }

    /// The service account named `name`, created the first time (see
    /// `ServiceAccounts::ensure`); use `RequestContext::internal(account.id)` to act as it.
    ///
    /// # Errors
    /// [`ServiceError::Validation`] for a bad name; storage errors.
    pub async fn service_account(&self, name: &str) -> Result<User, ServiceError> {
        self.services.service_accounts.ensure(name).await
    }

    /// `session`'s events after sequence `after` (0: from the start): the stored messages,
    /// then what happens live, nothing lost and nothing twice.
    ///
    /// # Errors
    /// [`SubscribersFull`] when the session has too many streams open on this node.
    pub fn session_events(
        &self,
        ctx: RequestContext,
        session: SessionId,
        after: u64,
    ) -> Result<SessionStream, SubscribersFull> {
        let live = self
            .subscriber
            .subscribe(session, MAX_SUBSCRIBERS_PER_SESSION)?;
        Ok(self.services.sessions.stream(ctx, session, after, live))
    }

    /// The events of `execution`'s session as they happen, then its end (the final row).
    #[must_use]
    pub fn execution_events(&self, ctx: RequestContext, execution: ExecutionId) -> ExecutionEvents {
        ExecutionEvents::new(
            self.services.tasks.clone(),
            self.services.sessions.clone(),
            self.subscriber.clone(),
            ctx,
            execution,
        )
    }

    /// `execution` once it has ended, or as it is after `timeout` (check its status).
    ///
    /// # Errors
    /// `NotFound` outside the caller's scope; storage errors.
    pub async fn wait(
        &self,
        ctx: &RequestContext,
        execution: ExecutionId,
        timeout: Duration,
    ) -> Result<TaskExecution, ServiceError> {
        self.services
            .tasks
            .wait_for_end(ctx, execution, timeout)
            .await
    }

    /// Stops: running executions get `grace` to finish, then every agent stops (runs cut
    /// short fail with "shutdown"; queued ones stay pending for the next start), then the
    /// background loops end.
    pub async fn shutdown(self, grace: Duration) {
        self.services.shutdown(grace).await;
        self.running.stop().await;
    }
}
