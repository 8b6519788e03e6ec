use async_trait::async_trait;
use overseer_domain::{MessageId, SessionId, ToolCall, ToolCallId, ToolCallStatus};
use overseer_ports::repositories::{ToolCallRepository, ToolCallWrite};
use overseer_ports::{Page, PageRequest, RepoError};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Statement, TransactionTrait,
};

use super::cas_miss;
use crate::convert::{
    corrupt, fetch_all, fetch_page, from_db, parse, to_db, unavailable, write_err,
};
use crate::entities::tool_calls::{ActiveModel, Column, Entity, Model};
use crate::repos::insert_in_chunks;

const ENTITY: &str = "tool call";
/// 16 columns a row: well below both databases' bind parameter limits.
const ROWS_PER_INSERT: usize = 1_000;

#[derive(Debug)]
pub(crate) struct SqlToolCalls(pub(crate) DatabaseConnection);

fn to_model(call: &ToolCall) -> Result<Model, RepoError> {
    Ok(Model {
        id: call.id.as_uuid(),
        session_id: call.session_id.as_uuid(),
        message_id: call.message_id.map(|id| id.as_uuid()),
        tool_use_id: call.tool_use_id.clone(),
        tool_name: call.tool_name.clone(),
        tool_input: call.tool_input.clone(),
        tool_output: call.tool_output.clone(),
        tool_output_bytes: call
            .tool_output_bytes
            .map(|b| to_db(ENTITY, b))
            .transpose()?,
        tool_response: call.tool_response.clone(),
        parent_tool_use_id: call.parent_tool_use_id.clone(),
        status: call.status.as_str().to_owned(),
        permission_decision: call.permission_decision.map(|d| d.as_str().to_owned()),
        started_at: call.started_at,
        completed_at: call.completed_at,
        duration_ms: call.duration_ms.map(|d| to_db(ENTITY, d)).transpose()?,
        created_at: call.created_at,
    })
}

fn to_domain(row: Model) -> Result<ToolCall, RepoError> {
    Ok(ToolCall {
        id: ToolCallId::from_uuid(row.id),
        session_id: SessionId::from_uuid(row.session_id),
        message_id: row.message_id.map(MessageId::from_uuid),
        tool_use_id: row.tool_use_id,
        tool_name: row.tool_name,
        tool_input: row.tool_input,
        tool_output: row.tool_output,
        tool_output_bytes: row
            .tool_output_bytes
            .map(|b| from_db(ENTITY, b))
            .transpose()?,
        tool_response: row.tool_response,
        parent_tool_use_id: row.parent_tool_use_id,
        status: parse(ENTITY, &row.status)?,
        permission_decision: row
            .permission_decision
            .as_deref()
            .map(|d| parse(ENTITY, d))
            .transpose()?,
        started_at: row.started_at,
        completed_at: row.completed_at,
        duration_ms: row.duration_ms.map(|d| from_db(ENTITY, d)).transpose()?,
        created_at: row.created_at,
    })
}

async fn insert(db: &impl ConnectionTrait, call: &ToolCall) -> Result<(), RepoError> {
    Entity::insert(to_model(call)?.into_active_model())
        .exec_without_returning(db)
        .await
        .map_err(write_err(ENTITY, "session or message"))?;
    Ok(())
}

async fn update(
    db: &impl ConnectionTrait,
    call: &ToolCall,
    expected: ToolCallStatus,
) -> Result<(), RepoError> {
    let row = to_model(call)?;
    let changes = ActiveModel {
        message_id: Set(row.message_id),
        tool_output: Set(row.tool_output),
        tool_output_bytes: Set(row.tool_output_bytes),
        tool_response: Set(row.tool_response),
        parent_tool_use_id: Set(row.parent_tool_use_id),
        status: Set(row.status),
        permission_decision: Set(row.permission_decision),
        started_at: Set(row.started_at),
        completed_at: Set(row.completed_at),
        duration_ms: Set(row.duration_ms),
        ..Default::default()
    };
    let result = Entity::update_many()
        .set(changes)
        .filter(Column::Id.eq(row.id))
        .filter(Column::Status.eq(expected.as_str()))
        .exec(db)
        .await
        .map_err(write_err(ENTITY, "message"))?;
    if result.rows_affected == 0 {
        return Err(cas_miss::<Entity>(db, row.id, ENTITY, expected.as_str()).await);
    }
    Ok(())
}

/// Applies `writes` in order on `db` (the caller's transaction): new calls in multi-row
/// INSERTs, updates compare-and-set one by one.
pub(crate) async fn save_all(
    db: &impl ConnectionTrait,
    writes: &[ToolCallWrite],
) -> Result<(), RepoError> {
    let new_rows = writes
        .iter()
        .filter(|w| w.expected.is_none())
        .map(|w| to_model(&w.call).map(IntoActiveModel::into_active_model))
        .collect::<Result<Vec<_>, _>>()?;
    insert_in_chunks(db, new_rows, ROWS_PER_INSERT)
        .await
        .map_err(write_err(ENTITY, "session or message"))?;
    for write in writes {
        if let Some(expected) = write.expected {
            update(db, &write.call, expected).await?;
        }
    }
    Ok(())
}

/// The Postgres lookup of several tool uses of a session: one probe of the unique
/// `(session_id, tool_use_id)` index per id. `LIMIT 1` keeps the lateral subquery from being
/// flattened into a join, so the plan does not depend on the table's statistics. With
/// `tool_use_id IN (…)` a plan made while the table was nearly empty scanned every call of the
/// session for each batch, which is quadratic over a long session (benchmark (c)).
pub(crate) const POSTGRES_FIND_EACH: &str = "SELECT t.* \
     FROM json_array_elements_text($2::text::json) AS k(tool_use_id) \
     CROSS JOIN LATERAL (SELECT * FROM tool_calls c \
       WHERE c.session_id = $1 AND c.tool_use_id = k.tool_use_id LIMIT 1) AS t";

async fn find_each_postgres(
    db: &DatabaseConnection,
    session: SessionId,
    tool_use_ids: &[String],
) -> Result<Vec<ToolCall>, RepoError> {
    if tool_use_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(tool_use_ids).map_err(|err| corrupt(ENTITY)(&err))?;
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        POSTGRES_FIND_EACH,
        [session.as_uuid().into(), ids.into()],
    );
    let rows = Entity::find()
        .from_raw_sql(statement)
        .all(db)
        .await
        .map_err(unavailable)?;
    rows.into_iter().map(to_domain).collect()
}

#[async_trait]
impl ToolCallRepository for SqlToolCalls {
    async fn insert(&self, call: &ToolCall) -> Result<(), RepoError> {
        insert(&self.0, call).await
    }

    async fn update(&self, call: &ToolCall, expected: ToolCallStatus) -> Result<(), RepoError> {
        update(&self.0, call, expected).await
    }

    async fn save_all(&self, writes: &[ToolCallWrite]) -> Result<(), RepoError> {
        let txn = self.0.begin().await.map_err(unavailable)?;
        save_all(&txn, writes).await?;
        txn.commit().await.map_err(unavailable)?;
        Ok(())
    }

    async fn list_unfinished(&self, session: SessionId) -> Result<Vec<ToolCall>, RepoError> {
        let unfinished = [ToolCallStatus::Pending, ToolCallStatus::Running].map(|s| s.as_str());
        let select = Entity::find()
            .filter(Column::SessionId.eq(session.as_uuid()))
            .filter(Column::Status.is_in(unfinished))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id);
        fetch_all(&self.0, select, to_domain).await
    }

    async fn find_by_tool_use_ids(
        &self,
        session: SessionId,
        tool_use_ids: &[String],
    ) -> Result<Vec<ToolCall>, RepoError> {
        if self.0.get_database_backend() == DbBackend::Postgres {
            return find_each_postgres(&self.0, session, tool_use_ids).await;
        }
        let mut found = Vec::new();
        for chunk in tool_use_ids.chunks(ROWS_PER_INSERT) {
            let rows = Entity::find()
                .filter(Column::SessionId.eq(session.as_uuid()))
                .filter(Column::ToolUseId.is_in(chunk.iter().cloned()))
                .all(&self.0)
                .await
                .map_err(unavailable)?;
            for row in rows {
                found.push(to_domain(row)?);
            }
        }
        Ok(found)
    }

    async fn find_by_tool_use_id(
        &self,
        session: SessionId,
        tool_use_id: &str,
    ) -> Result<Option<ToolCall>, RepoError> {
        Entity::find()
            .filter(Column::SessionId.eq(session.as_uuid()))
            .filter(Column::ToolUseId.eq(tool_use_id))
            .one(&self.0)
            .await
            .map_err(unavailable)?
            .map(to_domain)
            .transpose()
    }

    async fn list_for_session(
        &self,
        session: SessionId,
        page: PageRequest,
    ) -> Result<Page<ToolCall>, RepoError> {
        let select = Entity::find()
            .filter(Column::SessionId.eq(session.as_uuid()))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id);
        fetch_page(&self.0, select, page, to_domain).await
    }
}

#[cfg(test)]
mod tests {
    use overseer_ports::repositories::ToolCallWrite;
    use overseer_testkit::fixtures;
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    use super::POSTGRES_FIND_EACH;

    /// Regression (benchmark (c)): statistics taken while the table was nearly empty made the
    /// lookup of a batch's tool uses scan every call of the session. The lookup must probe the
    /// unique index once per id even when the statistics are stale.
    #[tokio::test]
    async fn the_postgres_lookup_probes_the_unique_index_whatever_the_statistics() {
        let Some((store, _guard)) = crate::testing::postgres().await else {
            return;
        };
        let repos = store.repositories();
        let owner = fixtures::user("plans@example.com");
        repos.users.insert(&owner).await.unwrap();
        let session = fixtures::session(owner.id, fixtures::at(0));
        repos.sessions.insert(&session).await.unwrap();
        let calls = |range: std::ops::Range<i64>| {
            range
                .map(|n| ToolCallWrite {
                    call: fixtures::tool_call(session.id, &format!("toolu_{n}"), fixtures::at(n)),
                    expected: None,
                })
                .collect::<Vec<_>>()
        };
        let db = store.connection();
        repos.tool_calls.save_all(&calls(0..5)).await.unwrap();
        db.execute_unprepared("ANALYZE tool_calls").await.unwrap();
        repos.tool_calls.save_all(&calls(5..3_000)).await.unwrap();

        let wanted: Vec<String> = (2_900..2_985).map(|n| format!("toolu_{n}")).collect();
        let found = repos
            .tool_calls
            .find_by_tool_use_ids(session.id, &wanted)
            .await
            .unwrap();
        assert_eq!(found.len(), wanted.len());
        let explain = Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("EXPLAIN {POSTGRES_FIND_EACH}"),
            [
                session.id.as_uuid().into(),
                serde_json::to_string(&wanted).unwrap().into(),
            ],
        );
        let plan: Vec<String> = db
            .query_all_raw(explain)
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String>("", "QUERY PLAN").unwrap())
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.contains("Index Scan using uq_tool_calls_session_tool_use")
                && !plan.contains("idx_tool_calls_session_list")
                && !plan.contains("Seq Scan on tool_calls"),
            "{plan}"
        );
    }
}
