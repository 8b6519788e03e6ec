use std::collections::BTreeMap;

use time::OffsetDateTime;

use async_trait::async_trait;
use overseer_domain::{
    Delivery, ExecutionId, ExecutionStatus, Lease, MessageId, ReportId, SessionId, TaskExecution,
    TaskId, UserId,
};
use overseer_ports::repositories::{
    ClaimLimits, ExecutionFilter, ExecutionRepository, LostLeases, Recovered,
};
use overseer_ports::{Page, PageRequest, RepoError, Scope};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, TransactionTrait, UpdateMany,
};

use super::notifications::insert_deliveries;
use super::{cas_miss, scoped};
use crate::convert::{corrupt, fetch_page, parse, unavailable, write_err};
use crate::entities::task_executions::{ActiveModel, Column, Entity, Model};
use crate::task_snapshot;

const ENTITY: &str = "task execution";

#[derive(Debug)]
pub(crate) struct SqlExecutions(pub(crate) DatabaseConnection);

fn to_model(execution: &TaskExecution) -> Result<Model, RepoError> {
    Ok(Model {
        id: execution.id.as_uuid(),
        task_id: execution.task_id.as_uuid(),
        user_id: execution.user_id.as_uuid(),
        session_id: execution.session_id.map(|id| id.as_uuid()),
        trigger_type: execution.trigger.as_str().to_owned(),
        variables: serde_json::to_value(&execution.variables).map_err(|e| corrupt(ENTITY)(&e))?,
        task_snapshot: task_snapshot::to_json(&execution.snapshot),
        status: execution.status().as_str().to_owned(),
        error_message: execution.error_message.clone(),
        started_at: execution.started_at,
        completed_at: execution.completed_at,
        duration_seconds: execution.duration_seconds,
        result_message_id: execution.result_message_id.map(|id| id.as_uuid()),
        structured_output: execution.structured_output.clone(),
        report_id: execution.report_id.map(|id| id.as_uuid()),
        lease_owner: execution.lease.as_ref().map(|l| l.owner.clone()),
        lease_expires_at: execution.lease.as_ref().map(|l| l.expires_at),
        attempts: i32::try_from(execution.attempts).map_err(|e| corrupt(ENTITY)(&e))?,
        agent_started_at: execution.agent_started_at,
        scheduled_for: execution.scheduled_for,
        created_at: execution.created_at,
        updated_at: execution.updated_at,
    })
}

fn to_domain(row: Model) -> Result<TaskExecution, RepoError> {
    let bad = corrupt(ENTITY);
    let variables: BTreeMap<String, serde_json::Value> =
        serde_json::from_value(row.variables).map_err(|e| bad(&e))?;
    let snapshot = task_snapshot::from_json(&row.task_snapshot).map_err(|e| bad(&e))?;
    let mut execution = TaskExecution::new(
        ExecutionId::from_uuid(row.id),
        TaskId::from_uuid(row.task_id),
        UserId::from_uuid(row.user_id),
        parse(ENTITY, &row.trigger_type)?,
        variables,
        snapshot,
        row.created_at,
    )
    .with_stored_status(parse(ENTITY, &row.status)?);
    execution.session_id = row.session_id.map(SessionId::from_uuid);
    execution.error_message = row.error_message;
    execution.started_at = row.started_at;
    execution.completed_at = row.completed_at;
    execution.duration_seconds = row.duration_seconds;
    execution.result_message_id = row.result_message_id.map(MessageId::from_uuid);
    execution.structured_output = row.structured_output;
    execution.report_id = row.report_id.map(ReportId::from_uuid);
    execution.lease = match (row.lease_owner, row.lease_expires_at) {
        (Some(owner), Some(expires_at)) => Some(Lease { owner, expires_at }),
        _ => None,
    };
    execution.attempts = u32::try_from(row.attempts).map_err(|e| bad(&e))?;
    execution.agent_started_at = row.agent_started_at;
    execution.scheduled_for = row.scheduled_for;
    execution.updated_at = row.updated_at;
    Ok(execution)
}

/// Runs a compare-and-set `update`; whether it changed the row.
async fn changed(db: &impl ConnectionTrait, update: UpdateMany<Entity>) -> Result<bool, RepoError> {
    let result = update
        .exec(db)
        .await
        .map_err(write_err(ENTITY, "session, message or report"))?;
    Ok(result.rows_affected > 0)
}

#[async_trait]
impl ExecutionRepository for SqlExecutions {
    async fn insert(&self, execution: &TaskExecution) -> Result<(), RepoError> {
        Entity::insert(to_model(execution)?.into_active_model())
            .exec_without_returning(&self.0)
            .await
            .map_err(write_err(ENTITY, "task or user"))?;
        Ok(())
    }

    async fn last_scheduled_for(&self, task: TaskId) -> Result<Option<OffsetDateTime>, RepoError> {
        Ok(Entity::find()
            .filter(Column::TaskId.eq(task.as_uuid()))
            .filter(Column::ScheduledFor.is_not_null())
            .order_by_desc(Column::ScheduledFor)
            .one(&self.0)
            .await
            .map_err(unavailable)?
            .and_then(|row| row.scheduled_for))
    }

    async fn get(&self, id: ExecutionId, scope: Scope) -> Result<TaskExecution, RepoError> {
        scoped(Entity::find_by_id(id.as_uuid()), Column::UserId, scope)
            .one(&self.0)
            .await
            .map_err(unavailable)?
            .ok_or(RepoError::NotFound { entity: ENTITY })
            .and_then(to_domain)
    }

    async fn list(
        &self,
        scope: Scope,
        filter: ExecutionFilter,
        page: PageRequest,
    ) -> Result<Page<TaskExecution>, RepoError> {
        let mut select = scoped(Entity::find(), Column::UserId, scope);
        if let Some(task) = filter.task_id {
            select = select.filter(Column::TaskId.eq(task.as_uuid()));
        }
        if let Some(status) = filter.status {
            select = select.filter(Column::Status.eq(status.as_str()));
        }
        let select = select
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id);
        fetch_page(&self.0, select, page, to_domain).await
    }

    async fn update_with(
        &self,
        execution: &TaskExecution,
        expected: ExecutionStatus,
        outbox: &[Delivery],
    ) -> Result<(), RepoError> {
        let row = to_model(execution)?;
        let changes = ActiveModel {
            session_id: Set(row.session_id),
            status: Set(row.status),
            error_message: Set(row.error_message),
            started_at: Set(row.started_at),
            completed_at: Set(row.completed_at),
            duration_seconds: Set(row.duration_seconds),
            result_message_id: Set(row.result_message_id),
            structured_output: Set(row.structured_output),
            report_id: Set(row.report_id),
            lease_owner: Set(row.lease_owner),
            lease_expires_at: Set(row.lease_expires_at),
            attempts: Set(row.attempts),
            agent_started_at: Set(row.agent_started_at),
            updated_at: Set(row.updated_at),
            ..Default::default()
        };
        let id = row.id;
        let update = Entity::update_many()
            .set(changes)
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(expected.as_str()));
        let missed = || cas_miss::<Entity>(&self.0, id, ENTITY, expected.as_str());
        // Without deliveries, one statement: no transaction around it.
        if outbox.is_empty() {
            if !changed(&self.0, update).await? {
                return Err(missed().await);
            }
            return Ok(());
        }
        let txn = self.0.begin().await.map_err(unavailable)?;
        if !changed(&txn, update).await? {
            drop(txn);
            return Err(missed().await);
        }
        insert_deliveries(&txn, outbox).await?;
        txn.commit().await.map_err(unavailable)
    }

    async fn claim_next(
        &self,
        node: &str,
        limits: ClaimLimits,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<TaskExecution>, RepoError> {
        let Some(id) = super::queue::claim(&self.0, node, limits, now, lease_until).await? else {
            return Ok(None);
        };
        self.get(ExecutionId::from_uuid(id), Scope::Admin)
            .await
            .map(Some)
    }

    async fn heartbeat(
        &self,
        node: &str,
        executions: &[ExecutionId],
        lease_until: OffsetDateTime,
    ) -> Result<u64, RepoError> {
        if executions.is_empty() {
            return Ok(0);
        }
        let result = Entity::update_many()
            .set(ActiveModel {
                lease_expires_at: Set(Some(lease_until)),
                ..Default::default()
            })
            .filter(Column::Id.is_in(executions.iter().map(|id| id.as_uuid())))
            .filter(Column::Status.eq(ExecutionStatus::Running.as_str()))
            .filter(Column::LeaseOwner.eq(node))
            .exec(&self.0)
            .await
            .map_err(unavailable)?;
        Ok(result.rows_affected)
    }

    async fn recover_lost(
        &self,
        lost: LostLeases,
        now: OffsetDateTime,
        reason: &str,
    ) -> Result<Recovered, RepoError> {
        let expired = || {
            let running =
                Entity::update_many().filter(Column::Status.eq(ExecutionStatus::Running.as_str()));
            match &lost {
                LostLeases::Expired => running.filter(Column::LeaseExpiresAt.lt(now)),
                LostLeases::HeldBy(node) => running.filter(Column::LeaseOwner.eq(node.as_str())),
            }
        };
        let requeued = expired()
            .set(ActiveModel {
                status: Set(ExecutionStatus::Pending.as_str().to_owned()),
                lease_owner: Set(None),
                lease_expires_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(Column::AgentStartedAt.is_null())
            .exec_with_returning(&self.0)
            .await
            .map_err(unavailable)?;
        let failed = expired()
            .set(ActiveModel {
                status: Set(ExecutionStatus::Failed.as_str().to_owned()),
                error_message: Set(Some(reason.to_owned())),
                completed_at: Set(Some(now)),
                lease_owner: Set(None),
                lease_expires_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(Column::AgentStartedAt.is_not_null())
            .exec_with_returning(&self.0)
            .await
            .map_err(unavailable)?;
        Ok(Recovered {
            requeued: requeued
                .into_iter()
                .map(|row| ExecutionId::from_uuid(row.id))
                .collect(),
            failed: failed
                .into_iter()
                .map(to_domain)
                .collect::<Result<_, _>>()?,
        })
    }
}
