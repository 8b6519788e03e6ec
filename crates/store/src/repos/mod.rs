//! One repository per aggregate, each a thin struct over the shared connection pool.

mod approvals;
mod audit_logs;
mod executions;
mod mcp_servers;
mod message_rows;
mod messages;
mod notifications;
mod queue;
mod quotas;
mod reports;
mod sessions;
mod tasks;
mod tool_calls;
mod users;
mod webhooks;

use overseer_ports::{RepoError, Scope};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    PrimaryKeyTrait, QueryFilter, Select,
};
use uuid::Uuid;

pub(crate) use approvals::SqlApprovals;
pub(crate) use audit_logs::SqlAuditLogs;
pub(crate) use executions::SqlExecutions;
pub(crate) use mcp_servers::SqlMcpServers;
pub(crate) use messages::SqlMessages;
pub(crate) use notifications::SqlNotifications;
pub(crate) use quotas::SqlQuotas;
pub(crate) use reports::SqlReports;
pub(crate) use sessions::SqlSessions;
pub(crate) use tasks::SqlTasks;
pub(crate) use tool_calls::SqlToolCalls;
pub(crate) use users::SqlUsers;
pub(crate) use webhooks::SqlWebhooks;

use crate::convert::unavailable;

/// Inserts `rows` with one multi-row INSERT per `per_statement` rows, so that each statement
/// stays under the databases' bind parameter limits (SQLite 32,766; Postgres 65,535). The rows
/// move into their statements: a batch's rows (and the JSON they hold) are not copied.
pub(crate) async fn insert_in_chunks<A>(
    db: &impl ConnectionTrait,
    rows: Vec<A>,
    per_statement: usize,
) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(per_statement).collect();
        A::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Restricts `select` to rows of the scope's owner (`owner_column`), or leaves it whole for an
/// admin.
fn scoped<E: EntityTrait>(
    select: Select<E>,
    owner_column: impl ColumnTrait,
    scope: Scope,
) -> Select<E> {
    match scope {
        Scope::Owner(user) => select.filter(owner_column.eq(user.as_uuid())),
        Scope::Admin => select,
    }
}

/// After a compare-and-set update matched no row: `NotFound` if the row is gone, otherwise the
/// stored state differed and the caller lost the race.
async fn cas_miss<E>(
    db: &impl ConnectionTrait,
    id: Uuid,
    entity: &'static str,
    expected: &str,
) -> RepoError
where
    E: EntityTrait,
    E::Model: sea_orm::FromQueryResult + Send + Sync,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    match E::find_by_id(id).count(db).await {
        Ok(0) => RepoError::NotFound { entity },
        Ok(_) => RepoError::Conflict {
            entity,
            expected: expected.to_owned(),
        },
        Err(err) => unavailable(err),
    }
}
