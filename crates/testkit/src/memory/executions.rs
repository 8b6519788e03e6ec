use async_trait::async_trait;
use std::collections::HashMap;

use overseer_domain::{
    Delivery, ExecutionId, ExecutionStatus, Lease, TaskExecution, TaskId, UserId,
};
use overseer_ports::repositories::{
    ClaimLimits, ExecutionFilter, ExecutionRepository, LostLeases, Recovered,
};
use overseer_ports::{Page, PageRequest, RepoError, Scope};
use time::OffsetDateTime;

use super::{MemoryStore, newest_first_page};

const ENTITY: &str = "task execution";

#[async_trait]
impl ExecutionRepository for MemoryStore {
    async fn insert(&self, execution: &TaskExecution) -> Result<(), RepoError> {
        let mut state = self.lock();
        if !state.tasks.contains_key(&execution.task_id)
            || !state.users.contains_key(&execution.user_id)
        {
            return Err(RepoError::NotFound {
                entity: "task or user",
            });
        }
        if state.executions.contains_key(&execution.id) {
            return Err(RepoError::AlreadyExists {
                entity: ENTITY,
                key: "id".to_owned(),
            });
        }
        if execution.scheduled_for.is_some()
            && state.executions.values().any(|e| {
                e.task_id == execution.task_id && e.scheduled_for == execution.scheduled_for
            })
        {
            return Err(RepoError::AlreadyExists {
                entity: ENTITY,
                key: "(task_id, scheduled_for)".to_owned(),
            });
        }
        state.executions.insert(execution.id, execution.clone());
        Ok(())
    }

    async fn last_scheduled_for(&self, task: TaskId) -> Result<Option<OffsetDateTime>, RepoError> {
        Ok(self
            .lock()
            .executions
            .values()
            .filter(|e| e.task_id == task)
            .filter_map(|e| e.scheduled_for)
            .max())
    }

    async fn get(&self, id: ExecutionId, scope: Scope) -> Result<TaskExecution, RepoError> {
        self.lock()
            .executions
            .get(&id)
            .filter(|e| scope.permits(e.user_id))
            .cloned()
            .ok_or(RepoError::NotFound { entity: ENTITY })
    }

    async fn list(
        &self,
        scope: Scope,
        filter: ExecutionFilter,
        page: PageRequest,
    ) -> Result<Page<TaskExecution>, RepoError> {
        let state = self.lock();
        let rows = state
            .executions
            .values()
            .filter(|e| scope.permits(e.user_id))
            .filter(|e| filter.task_id.is_none_or(|t| e.task_id == t))
            .filter(|e| filter.status.is_none_or(|s| e.status() == s))
            .cloned();
        Ok(newest_first_page(
            rows,
            |e| (e.created_at, e.id.as_uuid()),
            page,
        ))
    }

    async fn update_with(
        &self,
        execution: &TaskExecution,
        expected: ExecutionStatus,
        outbox: &[Delivery],
    ) -> Result<(), RepoError> {
        let mut state = self.lock();
        state.check_outbox(outbox)?;
        let session_missing = execution
            .session_id
            .is_some_and(|s| !state.sessions.contains_key(&s));
        let message_missing = execution
            .result_message_id
            .is_some_and(|m| !state.messages.contains_key(&m));
        let report_missing = execution
            .report_id
            .is_some_and(|r| !state.reports.contains_key(&r));
        let stored = state
            .executions
            .get_mut(&execution.id)
            .ok_or(RepoError::NotFound { entity: ENTITY })?;
        if stored.status() != expected {
            return Err(RepoError::Conflict {
                entity: ENTITY,
                expected: expected.as_str().to_owned(),
            });
        }
        if session_missing || message_missing || report_missing {
            return Err(RepoError::NotFound {
                entity: "session, message or report",
            });
        }
        // Only the fields a transition sets change; identity, inputs and snapshot stay.
        let mut updated = stored.clone().with_stored_status(execution.status());
        updated.session_id = execution.session_id;
        updated.error_message.clone_from(&execution.error_message);
        updated.started_at = execution.started_at;
        updated.completed_at = execution.completed_at;
        updated.duration_seconds = execution.duration_seconds;
        updated.result_message_id = execution.result_message_id;
        updated.report_id = execution.report_id;
        updated.lease.clone_from(&execution.lease);
        updated.attempts = execution.attempts;
        updated.agent_started_at = execution.agent_started_at;
        updated.updated_at = execution.updated_at;
        *stored = updated;
        state.put_outbox(outbox);
        Ok(())
    }

    async fn claim_next(
        &self,
        node: &str,
        limits: ClaimLimits,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<TaskExecution>, RepoError> {
        let mut state = self.lock();
        let mut running: HashMap<UserId, u32> = HashMap::new();
        for execution in state
            .executions
            .values()
            .filter(|e| e.status() == ExecutionStatus::Running)
        {
            *running.entry(execution.user_id).or_default() += 1;
        }
        if running.values().sum::<u32>() >= limits.global {
            return Ok(None);
        }
        let load = |user: &UserId| running.get(user).copied().unwrap_or(0);
        let mut last_served: HashMap<UserId, OffsetDateTime> = HashMap::new();
        for execution in state.executions.values() {
            if let Some(started) = execution.started_at {
                let last = last_served.entry(execution.user_id).or_insert(started);
                *last = (*last).max(started);
            }
        }
        let next = state
            .executions
            .values()
            .filter(|e| {
                e.status() == ExecutionStatus::Pending && load(&e.user_id) < limits.per_user
            })
            // `None` (never served) sorts before any time.
            .min_by_key(|e| {
                (
                    load(&e.user_id),
                    last_served.get(&e.user_id).copied(),
                    e.created_at,
                    e.id.as_uuid(),
                )
            })
            .map(|e| e.id);
        let Some(id) = next else { return Ok(None) };
        let Some(stored) = state.executions.get_mut(&id) else {
            return Ok(None);
        };
        let mut claimed = stored.clone().with_stored_status(ExecutionStatus::Running);
        claimed.lease = Some(Lease {
            owner: node.to_owned(),
            expires_at: lease_until,
        });
        claimed.attempts += 1;
        claimed.started_at = Some(now);
        claimed.updated_at = now;
        *stored = claimed.clone();
        Ok(Some(claimed))
    }

    async fn heartbeat(
        &self,
        node: &str,
        executions: &[ExecutionId],
        lease_until: OffsetDateTime,
    ) -> Result<u64, RepoError> {
        let mut state = self.lock();
        let mut held = 0;
        for id in executions {
            if let Some(execution) = state.executions.get_mut(id)
                && execution.status() == ExecutionStatus::Running
                && execution.lease.as_ref().is_some_and(|l| l.owner == node)
            {
                execution.lease = Some(Lease {
                    owner: node.to_owned(),
                    expires_at: lease_until,
                });
                held += 1;
            }
        }
        Ok(held)
    }

    async fn recover_lost(
        &self,
        lost: LostLeases,
        now: OffsetDateTime,
        reason: &str,
    ) -> Result<Recovered, RepoError> {
        let mut state = self.lock();
        let mut recovered = Recovered::default();
        for execution in state.executions.values_mut() {
            let expired = execution.status() == ExecutionStatus::Running
                && execution.lease.as_ref().is_some_and(|l| match &lost {
                    LostLeases::Expired => l.expires_at < now,
                    LostLeases::HeldBy(node) => &l.owner == node,
                });
            if !expired {
                continue;
            }
            if execution.agent_started_at.is_none() {
                let _ = execution.transition_to(ExecutionStatus::Pending, now);
                execution.lease = None;
                recovered.requeued.push(execution.id);
            } else {
                let _ = execution.fail(reason, now);
                recovered.failed.push(execution.clone());
            }
        }
        Ok(recovered)
    }
}
