use async_trait::async_trait;
use overseer_domain::{Report, ReportId, ReportTitle, SessionId, UserId};
use overseer_ports::repositories::ReportRepository;
use overseer_ports::{Page, PageRequest, RepoError, Scope};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};

use super::scoped;
use crate::convert::{corrupt, fetch_page, parse, unavailable, write_err};
use crate::entities::reports::{Column, Entity, Model};

const ENTITY: &str = "report";

#[derive(Debug)]
pub(crate) struct SqlReports(pub(crate) DatabaseConnection);

fn to_domain(row: Model) -> Result<Report, RepoError> {
    Ok(Report {
        id: ReportId::from_uuid(row.id),
        session_id: SessionId::from_uuid(row.session_id),
        user_id: UserId::from_uuid(row.user_id),
        title: ReportTitle::new(row.title).map_err(|e| corrupt(ENTITY)(&e))?,
        format: parse(ENTITY, &row.format)?,
        file_path: row.file_path,
        auto_generated: row.auto_generated,
        created_at: row.created_at,
    })
}

#[async_trait]
impl ReportRepository for SqlReports {
    async fn insert(&self, report: &Report) -> Result<(), RepoError> {
        let row = Model {
            id: report.id.as_uuid(),
            session_id: report.session_id.as_uuid(),
            user_id: report.user_id.as_uuid(),
            title: report.title.to_string(),
            format: report.format.as_str().to_owned(),
            file_path: report.file_path.clone(),
            auto_generated: report.auto_generated,
            created_at: report.created_at,
        };
        Entity::insert(row.into_active_model())
            .exec_without_returning(&self.0)
            .await
            .map_err(write_err(ENTITY, "session or user"))?;
        Ok(())
    }

    async fn get(&self, id: ReportId, scope: Scope) -> Result<Report, RepoError> {
        scoped(Entity::find_by_id(id.as_uuid()), Column::UserId, scope)
            .one(&self.0)
            .await
            .map_err(unavailable)?
            .ok_or(RepoError::NotFound { entity: ENTITY })
            .and_then(to_domain)
    }

    async fn list_for_session(
        &self,
        session: SessionId,
        scope: Scope,
        page: PageRequest,
    ) -> Result<Page<Report>, RepoError> {
        let select = scoped(Entity::find(), Column::UserId, scope)
            .filter(Column::SessionId.eq(session.as_uuid()))
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id);
        fetch_page(&self.0, select, page, to_domain).await
    }
}
