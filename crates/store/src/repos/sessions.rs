use async_trait::async_trait;
use overseer_domain::{
    AgentOptions, Fork, NewSession, Session, SessionId, SessionName, SessionStatus, SessionUsage,
    UserId,
};
use overseer_ports::repositories::{SessionFilter, SessionRepository, UsageDelta};
use overseer_ports::{Page, PageRequest, RepoError, Scope};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};

use super::{cas_miss, scoped};
use crate::convert::{corrupt, fetch_page, from_db, parse, to_db, unavailable, write_err};
use crate::entities::sessions::{ActiveModel, Column, Entity, Model};

pub(super) const ENTITY: &str = "session";

#[derive(Debug)]
pub(crate) struct SqlSessions(pub(crate) DatabaseConnection);

fn to_model(session: &Session) -> Result<Model, RepoError> {
    Ok(Model {
        id: session.id.as_uuid(),
        user_id: session.user_id.as_uuid(),
        name: session.name.to_string(),
        description: session.description.clone(),
        mode: session.mode.as_str().to_owned(),
        status: session.status().as_str().to_owned(),
        working_directory_path: session.working_directory_path.clone(),
        sdk_options: session.options.to_json(),
        agent_session_id: session.agent_session_id.clone(),
        message_count: to_db(ENTITY, session.usage.message_count)?,
        input_tokens: to_db(ENTITY, session.usage.input_tokens)?,
        output_tokens: to_db(ENTITY, session.usage.output_tokens)?,
        total_cost_usd: session.usage.total_cost_usd,
        error_message: session.error_message.clone(),
        host_node: session.host_node.clone(),
        forked_from_session: session.forked_from.as_ref().map(|f| f.session.as_uuid()),
        forked_conversation: session.forked_from.as_ref().map(|f| f.conversation.clone()),
        forked_at_message: session
            .forked_from
            .as_ref()
            .and_then(|f| f.at_message.clone()),
        created_at: session.created_at,
        updated_at: session.updated_at,
    })
}

fn to_domain(row: Model) -> Result<Session, RepoError> {
    let bad = corrupt(ENTITY);
    let new = NewSession {
        user_id: UserId::from_uuid(row.user_id),
        name: SessionName::new(row.name).map_err(|e| bad(&e))?,
        description: row.description,
        mode: parse(ENTITY, &row.mode)?,
        options: AgentOptions::from_json(row.sdk_options).map_err(|e| bad(&e))?,
    };
    let mut session = Session::new(SessionId::from_uuid(row.id), new, row.created_at)
        .map_err(|e| bad(&e))?
        .with_stored_status(parse(ENTITY, &row.status)?);
    session.working_directory_path = row.working_directory_path;
    session.agent_session_id = row.agent_session_id;
    session.usage = SessionUsage {
        message_count: from_db(ENTITY, row.message_count)?,
        input_tokens: from_db(ENTITY, row.input_tokens)?,
        output_tokens: from_db(ENTITY, row.output_tokens)?,
        total_cost_usd: row.total_cost_usd,
    };
    session.error_message = row.error_message;
    session.host_node = row.host_node;
    session.forked_from =
        row.forked_from_session
            .zip(row.forked_conversation)
            .map(|(id, conversation)| Fork {
                session: SessionId::from_uuid(id),
                conversation,
                at_message: row.forked_at_message,
            });
    session.updated_at = row.updated_at;
    Ok(session)
}

#[async_trait]
impl SessionRepository for SqlSessions {
    async fn insert(&self, session: &Session) -> Result<(), RepoError> {
        Entity::insert(to_model(session)?.into_active_model())
            .exec_without_returning(&self.0)
            .await
            .map_err(write_err(ENTITY, "user"))?;
        Ok(())
    }

    async fn get(&self, id: SessionId, scope: Scope) -> Result<Session, RepoError> {
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
        filter: SessionFilter,
        page: PageRequest,
    ) -> Result<Page<Session>, RepoError> {
        let mut select = scoped(Entity::find(), Column::UserId, scope);
        if let Some(status) = filter.status {
            select = select.filter(Column::Status.eq(status.as_str()));
        }
        if let Some(mode) = filter.mode {
            select = select.filter(Column::Mode.eq(mode.as_str()));
        }
        if filter.live_only {
            let live = SessionStatus::ALL
                .iter()
                .copied()
                .filter(|status| status.is_live())
                .map(SessionStatus::as_str);
            select = select.filter(Column::Status.is_in(live));
        }
        let select = select
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id);
        fetch_page(&self.0, select, page, to_domain).await
    }

    async fn in_flight(&self) -> Result<Vec<Session>, RepoError> {
        let in_flight = [SessionStatus::Connecting, SessionStatus::Processing].map(|s| s.as_str());
        Entity::find()
            .filter(Column::Status.is_in(in_flight))
            .all(&self.0)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    async fn update_status(
        &self,
        session: &Session,
        expected: SessionStatus,
    ) -> Result<(), RepoError> {
        let row = to_model(session)?;
        let changes = ActiveModel {
            status: Set(row.status),
            error_message: Set(row.error_message),
            working_directory_path: Set(row.working_directory_path),
            sdk_options: Set(row.sdk_options),
            updated_at: Set(row.updated_at),
            ..Default::default()
        };
        let result = Entity::update_many()
            .set(changes)
            .filter(Column::Id.eq(row.id))
            .filter(Column::Status.eq(expected.as_str()))
            .exec(&self.0)
            .await
            .map_err(unavailable)?;
        if result.rows_affected == 0 {
            return Err(cas_miss::<Entity>(&self.0, row.id, ENTITY, expected.as_str()).await);
        }
        Ok(())
    }

    async fn set_agent_session_id(
        &self,
        id: SessionId,
        agent_session_id: &str,
    ) -> Result<(), RepoError> {
        let result = Entity::update_many()
            .set(ActiveModel {
                agent_session_id: Set(Some(agent_session_id.to_owned())),
                ..Default::default()
            })
            .filter(Column::Id.eq(id.as_uuid()))
            .exec(&self.0)
            .await
            .map_err(unavailable)?;
        if result.rows_affected == 0 {
            return Err(RepoError::NotFound { entity: ENTITY });
        }
        Ok(())
    }

    async fn add_usage(&self, id: SessionId, delta: UsageDelta) -> Result<(), RepoError> {
        // Increments in SQL, so concurrent writers never lose each other's counts.
        let result = Entity::update_many()
            .col_expr(
                Column::InputTokens,
                Expr::col(Column::InputTokens).add(to_db(ENTITY, delta.input_tokens)?),
            )
            .col_expr(
                Column::OutputTokens,
                Expr::col(Column::OutputTokens).add(to_db(ENTITY, delta.output_tokens)?),
            )
            .col_expr(
                Column::TotalCostUsd,
                Expr::col(Column::TotalCostUsd).add(delta.cost_usd),
            )
            .filter(Column::Id.eq(id.as_uuid()))
            .exec(&self.0)
            .await
            .map_err(unavailable)?;
        if result.rows_affected == 0 {
            return Err(RepoError::NotFound { entity: ENTITY });
        }
        Ok(())
    }
}
