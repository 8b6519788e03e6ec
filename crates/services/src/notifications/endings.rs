//! `execution.finished`: every ending goes through the execution repository's writes, where
//! [`ExecutionWatch`](crate::events::execution_watch::ExecutionWatch) asks this listener for
//! the ending's deliveries and writes them in the ending's transaction.

use async_trait::async_trait;
use overseer_domain::{Delivery, NotificationEvent, TaskExecution};
use overseer_ports::{Repositories, Scope};
use serde_json::json;

use super::{Notice, NotificationService};
use crate::events::execution_watch::EndingListener;

/// The `execution.finished` deliveries of every ending the execution repository writes.
pub struct ExecutionNotices {
    repos: Repositories,
    notifications: NotificationService,
}

impl std::fmt::Debug for ExecutionNotices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionNotices").finish_non_exhaustive()
    }
}

impl ExecutionNotices {
    /// Notices read the run's task and session from `repos`.
    #[must_use]
    pub fn new(repos: Repositories, notifications: NotificationService) -> Self {
        Self {
            repos,
            notifications,
        }
    }
}

#[async_trait]
impl EndingListener for ExecutionNotices {
    async fn notices(&self, execution: &TaskExecution) -> Vec<Delivery> {
        let event = NotificationEvent::ExecutionFinished;
        let targets = self.notifications.hearing(event, execution.user_id).await;
        if targets.is_empty() {
            return Vec::new();
        }
        let task_name = match &execution.snapshot.task_name {
            Some(name) => name.to_string(),
            None => self
                .repos
                .tasks
                .get(execution.task_id, Scope::Admin)
                .await
                .map(|task| task.name.to_string())
                .unwrap_or_default(),
        };
        let cost = match execution.session_id {
            Some(session) => self
                .repos
                .sessions
                .get(session, Scope::Admin)
                .await
                .map(|s| s.usage.total_cost_usd)
                .unwrap_or(0.0),
            None => 0.0,
        };
        let path = format!("/api/v1/task-executions/{}", execution.id);
        let notice = Notice {
            event,
            owner: execution.user_id,
            data: json!({
                "execution_id": execution.id,
                "task_id": execution.task_id,
                "task_name": task_name,
                "status": execution.status(),
                "trigger_type": execution.trigger,
                "duration_seconds": execution.duration_seconds,
                "cost_usd": cost,
                "error_message": execution.error_message,
                "session_id": execution.session_id,
                "report_id": execution.report_id,
            }),
            links: json!({"execution": path}),
        };
        self.notifications.deliveries_to(&targets, &notice)
    }

    async fn enqueue(&self, deliveries: &[Delivery]) {
        self.notifications.enqueue(deliveries).await;
    }
}
