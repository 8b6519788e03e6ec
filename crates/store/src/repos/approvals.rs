use async_trait::async_trait;
use overseer_domain::{Approval, ApprovalId, ApprovalStatus, Delivery, SessionId, UserId};
use overseer_ports::repositories::{ApprovalFilter, ApprovalRepository};
use overseer_ports::{Page, PageRequest, RepoError, Scope};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, TransactionTrait,
};

use super::notifications::insert_deliveries;
use super::{cas_miss, scoped};
use crate::convert::{fetch_all, fetch_page, parse, unavailable, write_err};
use crate::entities::approvals::{ActiveModel, Column, Entity, Model};

const ENTITY: &str = "approval";

#[derive(Debug)]
pub(crate) struct SqlApprovals(pub(crate) DatabaseConnection);

fn to_domain(row: Model) -> Result<Approval, RepoError> {
    let mut approval = Approval::pending(
        ApprovalId::from_uuid(row.id),
        SessionId::from_uuid(row.session_id),
        UserId::from_uuid(row.user_id),
        row.tool_use_id,
        row.tool_name,
        row.tool_input,
        row.created_at,
        row.expires_at,
    )
    .with_stored_status(parse(ENTITY, &row.status)?);
    approval.kind = parse(ENTITY, &row.kind)?;
    approval.decided_by = row.decided_by.map(UserId::from_uuid);
    approval.decided_at = row.decided_at;
    Ok(approval)
}

#[async_trait]
impl ApprovalRepository for SqlApprovals {
    async fn insert(&self, approval: &Approval, outbox: &[Delivery]) -> Result<(), RepoError> {
        let row = Model {
            id: approval.id.as_uuid(),
            session_id: approval.session_id.as_uuid(),
            user_id: approval.user_id.as_uuid(),
            kind: approval.kind.as_str().to_owned(),
            tool_use_id: approval.tool_use_id.clone(),
            tool_name: approval.tool_name.clone(),
            tool_input: approval.tool_input.clone(),
            status: approval.status().as_str().to_owned(),
            decided_by: approval.decided_by.map(|u| u.as_uuid()),
            decided_at: approval.decided_at,
            expires_at: approval.expires_at,
            created_at: approval.created_at,
        };
        let txn = self.0.begin().await.map_err(unavailable)?;
        Entity::insert(row.into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(write_err(ENTITY, "session or user"))?;
        insert_deliveries(&txn, outbox).await?;
        txn.commit().await.map_err(unavailable)
    }

    async fn get(&self, id: ApprovalId, scope: Scope) -> Result<Approval, RepoError> {
        scoped(Entity::find_by_id(id.as_uuid()), Column::UserId, scope)
            .one(&self.0)
            .await
            .map_err(unavailable)?
            .ok_or(RepoError::NotFound { entity: ENTITY })
            .and_then(to_domain)
    }

    async fn update(
        &self,
        approval: &Approval,
        expected: ApprovalStatus,
        outbox: &[Delivery],
    ) -> Result<(), RepoError> {
        let changes = ActiveModel {
            status: Set(approval.status().as_str().to_owned()),
            decided_by: Set(approval.decided_by.map(|u| u.as_uuid())),
            decided_at: Set(approval.decided_at),
            ..Default::default()
        };
        let txn = self.0.begin().await.map_err(unavailable)?;
        let result = Entity::update_many()
            .set(changes)
            .filter(Column::Id.eq(approval.id.as_uuid()))
            .filter(Column::Status.eq(expected.as_str()))
            .exec(&txn)
            .await
            .map_err(write_err(ENTITY, "user"))?;
        if result.rows_affected == 0 {
            drop(txn);
            return Err(cas_miss::<Entity>(
                &self.0,
                approval.id.as_uuid(),
                ENTITY,
                expected.as_str(),
            )
            .await);
        }
        insert_deliveries(&txn, outbox).await?;
        txn.commit().await.map_err(unavailable)
    }

    async fn list_pending(&self, session: SessionId) -> Result<Vec<Approval>, RepoError> {
        let select = Entity::find()
            .filter(Column::SessionId.eq(session.as_uuid()))
            .filter(Column::Status.eq(ApprovalStatus::Pending.as_str()))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id);
        fetch_all(&self.0, select, to_domain).await
    }

    async fn list(
        &self,
        scope: Scope,
        filter: ApprovalFilter,
        page: PageRequest,
    ) -> Result<Page<Approval>, RepoError> {
        let mut select = scoped(Entity::find(), Column::UserId, scope);
        if let Some(status) = filter.status {
            select = select.filter(Column::Status.eq(status.as_str()));
        }
        if let Some(session) = filter.session {
            select = select.filter(Column::SessionId.eq(session.as_uuid()));
        }
        let select = select
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id);
        fetch_page(&self.0, select, page, to_domain).await
    }
}
