use async_trait::async_trait;
use overseer_domain::{Message, MessageBody, MessageId, NewMessage, SessionId};
use overseer_ports::RepoError;
use overseer_ports::repositories::{MessageRepository, ToolCallWrite};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Iden,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use crate::convert::{corrupt, fetch_all, from_db, parse, to_db, unavailable, write_err};
use crate::entities::messages::{Column, Entity, Model};
use crate::entities::sessions;
use crate::repos::{insert_in_chunks, message_rows, tool_calls};

const ENTITY: &str = "message";
/// 13 columns a row: well below both databases' bind parameter limits.
const ROWS_PER_INSERT: usize = 1_000;

#[derive(Debug)]
pub(crate) struct SqlMessages(pub(crate) DatabaseConnection);

fn from_json<T: serde::de::DeserializeOwned>(
    value: Option<serde_json::Value>,
) -> Result<Option<T>, RepoError> {
    value
        .map(serde_json::from_value)
        .transpose()
        .map_err(|err| corrupt(ENTITY)(&err))
}

fn to_domain(row: Model) -> Result<Message, RepoError> {
    Ok(Message {
        id: MessageId::from_uuid(row.id),
        session_id: SessionId::from_uuid(row.session_id),
        message_type: parse(ENTITY, &row.message_type)?,
        role: row.role.as_deref().map(|r| parse(ENTITY, r)).transpose()?,
        body: MessageBody {
            // Rows written before blocks existed have none.
            blocks: from_json(row.blocks)?.unwrap_or_default(),
            model: row.model,
            usage: from_json(row.usage)?,
            parent_tool_use_id: row.parent_tool_use_id,
            structured_output: row.structured_output,
            agent_message_id: row.agent_message_id,
            raw: row.content,
        },
        sequence_number: from_db(ENTITY, row.sequence_number)?,
        created_at: row.created_at,
    })
}

fn to_model(message: &Message) -> Result<Model, RepoError> {
    let body = &message.body;
    Ok(Model {
        id: message.id.as_uuid(),
        session_id: message.session_id.as_uuid(),
        message_type: message.message_type.as_str().to_owned(),
        role: message.role.map(|r| r.as_str().to_owned()),
        content: body.raw.clone(),
        blocks: Some(serde_json::to_value(&body.blocks).map_err(|err| corrupt(ENTITY)(&err))?),
        model: body.model.clone(),
        usage: body
            .usage
            .map(serde_json::to_value)
            .transpose()
            .map_err(|err| corrupt(ENTITY)(&err))?,
        parent_tool_use_id: body.parent_tool_use_id.clone(),
        structured_output: body.structured_output.clone(),
        agent_message_id: body.agent_message_id.clone(),
        sequence_number: to_db(ENTITY, message.sequence_number)?,
        created_at: message.created_at,
    })
}

#[async_trait]
impl MessageRepository for SqlMessages {
    async fn append_with(
        &self,
        session: SessionId,
        messages: Vec<NewMessage>,
        tool_calls: &[ToolCallWrite],
    ) -> Result<Vec<Message>, RepoError> {
        if messages.is_empty() && tool_calls.is_empty() {
            return Ok(Vec::new());
        }
        if messages.iter().any(|m| m.session_id != session) {
            return Err(RepoError::Conflict {
                entity: ENTITY,
                expected: "messages of one session".to_owned(),
            });
        }
        let added = i64::try_from(messages.len()).map_err(|_| RepoError::Conflict {
            entity: ENTITY,
            expected: "a smaller batch".to_owned(),
        })?;
        // The session's message_count is the sequence counter. Raising it first takes the
        // session row's write lock (Postgres) or the database write lock (SQLite), so appends to
        // one session are serialized; a failed insert rolls the increase back, leaving no gap.
        let txn = self.0.begin().await.map_err(unavailable)?;
        // One statement raises the counter and returns it (RETURNING: SQLite ≥ 3.35, Postgres).
        let bump = Query::update()
            .table(sessions::Entity)
            .value(
                sessions::Column::MessageCount,
                Expr::col(sessions::Column::MessageCount).add(added),
            )
            .and_where(Expr::col(sessions::Column::Id).eq(session.as_uuid()))
            .returning(Query::returning().column(sessions::Column::MessageCount))
            .to_owned();
        let count: i64 = txn
            .query_one(&bump)
            .await
            .map_err(unavailable)?
            .ok_or(RepoError::NotFound { entity: "session" })?
            .try_get("", &sessions::Column::MessageCount.to_string())
            .map_err(unavailable)?;
        let first: u64 = from_db(ENTITY, count - added + 1)?;
        let stored: Vec<Message> = messages
            .into_iter()
            .zip(first..)
            .map(|(message, number)| Message::from_new(message, number))
            .collect();
        if txn.get_database_backend() == DbBackend::Postgres {
            message_rows::insert_postgres(&txn, &stored).await?;
        } else {
            let rows = stored
                .iter()
                .map(|m| to_model(m).map(IntoActiveModel::into_active_model))
                .collect::<Result<Vec<_>, _>>()?;
            insert_in_chunks(&txn, rows, ROWS_PER_INSERT)
                .await
                .map_err(write_err(ENTITY, "session"))?;
        }
        // After the messages: a tool call may refer to one of them.
        tool_calls::save_all(&txn, tool_calls).await?;
        txn.commit().await.map_err(unavailable)?;
        Ok(stored)
    }

    async fn get(&self, id: MessageId) -> Result<Message, RepoError> {
        Entity::find_by_id(id.as_uuid())
            .one(&self.0)
            .await
            .map_err(unavailable)?
            .ok_or(RepoError::NotFound { entity: ENTITY })
            .and_then(to_domain)
    }

    async fn list_after(
        &self,
        session: SessionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Message>, RepoError> {
        // Sequences are stored as i64: a cursor past that has nothing after it.
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        let select = Entity::find()
            .filter(Column::SessionId.eq(session.as_uuid()))
            .filter(Column::SequenceNumber.gt(after))
            .order_by_asc(Column::SequenceNumber)
            .limit(u64::from(limit));
        fetch_all(&self.0, select, to_domain).await
    }
}
