use async_trait::async_trait;
use overseer_domain::{AuditAction, AuditLog, AuditLogId, ResourceType, UserId};
use overseer_ports::repositories::{AuditFilter, AuditLogRepository, ToolCallWrite};
use overseer_ports::{Page, PageRequest, RepoError, Scope};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    TransactionTrait,
};

use super::scoped;
use crate::convert::{corrupt, fetch_page, unavailable, write_err};
use crate::entities::audit_logs::{Column, Entity, Model};
use crate::repos::tool_calls;

const ENTITY: &str = "audit log entry";

#[derive(Debug)]
pub(crate) struct SqlAuditLogs(pub(crate) DatabaseConnection);

fn to_domain(row: Model) -> Result<AuditLog, RepoError> {
    let bad = corrupt(ENTITY);
    Ok(AuditLog {
        id: AuditLogId::from_uuid(row.id),
        user_id: row.user_id.map(UserId::from_uuid),
        action: row
            .action_type
            .parse::<AuditAction>()
            .map_err(|e| bad(&e))?,
        resource_type: ResourceType::new(row.resource_type).map_err(|e| bad(&e))?,
        resource_id: row.resource_id,
        details: row.action_details,
        ip_address: row.ip_address,
        user_agent: row.user_agent,
        created_at: row.created_at,
    })
}

fn to_model(entry: &AuditLog) -> Model {
    Model {
        id: entry.id.as_uuid(),
        user_id: entry.user_id.map(|id| id.as_uuid()),
        action_type: entry.action.to_string(),
        resource_type: entry.resource_type.to_string(),
        resource_id: entry.resource_id.clone(),
        action_details: entry.details.clone(),
        ip_address: entry.ip_address.clone(),
        user_agent: entry.user_agent.clone(),
        created_at: entry.created_at,
    }
}

#[async_trait]
impl AuditLogRepository for SqlAuditLogs {
    async fn append(&self, entry: &AuditLog) -> Result<(), RepoError> {
        Entity::insert(to_model(entry).into_active_model())
            .exec_without_returning(&self.0)
            .await
            .map_err(write_err(ENTITY, "user"))?;
        Ok(())
    }

    async fn append_with(
        &self,
        entries: &[AuditLog],
        tool_calls: &[ToolCallWrite],
    ) -> Result<(), RepoError> {
        if entries.is_empty() && tool_calls.is_empty() {
            return Ok(());
        }
        let txn = self.0.begin().await.map_err(unavailable)?;
        if !entries.is_empty() {
            Entity::insert_many(entries.iter().map(|e| to_model(e).into_active_model()))
                .exec_without_returning(&txn)
                .await
                .map_err(write_err(ENTITY, "user"))?;
        }
        tool_calls::save_all(&txn, tool_calls).await?;
        txn.commit().await.map_err(unavailable)?;
        Ok(())
    }

    async fn list(
        &self,
        scope: Scope,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditLog>, RepoError> {
        let mut select = scoped(Entity::find(), Column::UserId, scope);
        if let Some(action) = &filter.action {
            select = select.filter(Column::ActionType.eq(action.as_str()));
        }
        if let Some(resource_type) = &filter.resource_type {
            select = select.filter(Column::ResourceType.eq(resource_type.as_str()));
        }
        if let Some(resource_id) = &filter.resource_id {
            select = select.filter(Column::ResourceId.eq(resource_id.as_str()));
        }
        if let Some(since) = filter.since {
            select = select.filter(Column::CreatedAt.gte(since));
        }
        if let Some(until) = filter.until {
            select = select.filter(Column::CreatedAt.lt(until));
        }
        let select = select
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id);
        fetch_page(&self.0, select, page, to_domain).await
    }
}
