//! Waiting for background work to finish, by what it records rather than by time.

use std::time::Duration;

use overseer_domain::{AuditAction, ExecutionId, TaskExecution};
use overseer_ports::repositories::AuditFilter;
use overseer_ports::{PageRequest, Repositories, Scope};

/// Waits until the run of `id` is over (the runner writes the `task.executed` audit entry
/// last), then returns the execution. Panics after `limit`.
pub async fn run_finished(repos: &Repositories, id: ExecutionId, limit: Duration) -> TaskExecution {
    let deadline = tokio::time::Instant::now() + limit;
    let filter = AuditFilter {
        action: Some(AuditAction::TaskExecuted),
        resource_id: Some(id.to_string()),
        ..AuditFilter::default()
    };
    while repos
        .audit_logs
        .list(Scope::Admin, filter.clone(), PageRequest::default())
        .await
        .unwrap()
        .total
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "execution {id} did not finish within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    repos.executions.get(id, Scope::Admin).await.unwrap()
}
