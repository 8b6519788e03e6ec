//! The Postgres insert of a batch of messages: the rows travel as one JSON document, bound to
//! one constant statement that `jsonb_to_recordset` turns back into rows.
//!
//! A multi-row `INSERT … VALUES` of a 256-message batch binds 13 parameters a row (3,328 in
//! all) and its text changes with the batch's length, so each length is parsed, planned and
//! prepared again, and each row's JSON is copied into its bound value first. Here the rows are
//! serialized straight from the messages (no copy of the frame) and the statement, always the
//! same, is prepared once per connection. SQLite keeps the multi-row `VALUES` (its statements
//! are cheap to prepare and it has no `json_to_recordset`).

use overseer_domain::{ContentBlock, Message, TokenUsage};
use overseer_ports::RepoError;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::convert::{corrupt, to_db, write_err};

const ENTITY: &str = "message";

/// Inserts the rows of the JSON array bound as `$1` (see [`batch`]). The document is parsed
/// once, as `jsonb`: its nested values become the `jsonb` columns without being parsed again
/// (`json_to_recordset` parsed each frame three times: measured, Postgres' share of the flood
/// rose by a third). A JSON `null` becomes SQL `NULL` in `jsonb_to_recordset`; `content` is
/// never `NULL`, so its JSON `null` (a message with no frame) is put back as the JSON value. `created_us` is microseconds since the epoch,
/// which is the precision Postgres keeps: exact integer arithmetic, no text parsing.
const POSTGRES_INSERT: &str = "INSERT INTO messages (id, session_id, message_type, \
     role, content, blocks, model, usage, parent_tool_use_id, structured_output, \
     agent_message_id, sequence_number, created_at) \
     SELECT id, session_id, message_type, role, COALESCE(content, 'null'::jsonb), blocks, model, \
     usage, parent_tool_use_id, structured_output, agent_message_id, sequence_number, \
     timestamptz 'epoch' + created_us * interval '1 microsecond' \
     FROM jsonb_to_recordset($1::text::jsonb) AS r(id uuid, session_id uuid, message_type text, \
     role text, content jsonb, blocks jsonb, model text, usage jsonb, \
     parent_tool_use_id text, structured_output jsonb, agent_message_id text, \
     sequence_number bigint, created_us bigint)";

/// One row of [`POSTGRES_INSERT`], borrowed from its message.
#[derive(Serialize)]
struct Row<'a> {
    id: Uuid,
    session_id: Uuid,
    message_type: &'a str,
    role: Option<&'a str>,
    content: &'a Value,
    blocks: &'a [ContentBlock],
    model: Option<&'a str>,
    usage: Option<&'a TokenUsage>,
    parent_tool_use_id: Option<&'a str>,
    structured_output: Option<&'a Value>,
    agent_message_id: Option<&'a str>,
    sequence_number: i64,
    created_us: i64,
}

/// Inserts `messages` on Postgres with [`POSTGRES_INSERT`] (nothing for none).
///
/// # Errors
/// [`RepoError::NotFound`] for a session that does not exist, `AlreadyExists` for a taken id
/// or sequence number, [`RepoError::Corrupt`] for a sequence number or time Postgres cannot
/// hold.
pub(crate) async fn insert_postgres(
    db: &impl ConnectionTrait,
    messages: &[Message],
) -> Result<(), RepoError> {
    if messages.is_empty() {
        return Ok(());
    }
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        POSTGRES_INSERT,
        [batch(messages)?.into()],
    );
    db.execute_raw(statement)
        .await
        .map_err(write_err(ENTITY, "session"))?;
    Ok(())
}

/// The JSON document [`POSTGRES_INSERT`] binds for `messages`.
fn batch(messages: &[Message]) -> Result<String, RepoError> {
    let rows = messages
        .iter()
        .map(|m| {
            let body = &m.body;
            Ok(Row {
                id: m.id.as_uuid(),
                session_id: m.session_id.as_uuid(),
                message_type: m.message_type.as_str(),
                role: m.role.map(|r| r.as_str()),
                content: &body.raw,
                blocks: &body.blocks,
                model: body.model.as_deref(),
                usage: body.usage.as_ref(),
                parent_tool_use_id: body.parent_tool_use_id.as_deref(),
                structured_output: body.structured_output.as_ref(),
                agent_message_id: body.agent_message_id.as_deref(),
                sequence_number: to_db(ENTITY, m.sequence_number)?,
                // Truncated to whole microseconds, as the driver does when it binds a time.
                created_us: i64::try_from(
                    (m.created_at - time::OffsetDateTime::UNIX_EPOCH).whole_microseconds(),
                )
                .map_err(|err| corrupt(ENTITY)(&err))?,
            })
        })
        .collect::<Result<Vec<Row<'_>>, RepoError>>()?;
    serde_json::to_string(&rows).map_err(|err| corrupt(ENTITY)(&err))
}

#[cfg(test)]
mod tests {
    use overseer_domain::{MessageBody, MessageId, MessageType, NewMessage};
    use overseer_testkit::fixtures;
    use time::Duration;

    /// Every column survives the JSON batch on Postgres exactly as the driver would bind it:
    /// set and unset fields, a message with no frame (`content` JSON `null`), text that needs
    /// escaping, and a time to the nanosecond (kept to the microsecond).
    #[tokio::test]
    async fn a_batch_reads_back_as_written() {
        let Some((store, _guard)) = crate::testing::postgres().await else {
            return;
        };
        let repos = store.repositories();
        let owner = fixtures::user("rows@example.com");
        repos.users.insert(&owner).await.unwrap();
        let session = fixtures::session(owner.id, fixtures::at(0));
        repos.sessions.insert(&session).await.unwrap();
        let created_at = fixtures::at(5) + Duration::nanoseconds(123_456_789);
        // Every field set (the fixture's), with text that needs escaping.
        let full = fixtures::message(session.id, "quote \" and \\ and é", created_at);
        let bare = NewMessage {
            id: MessageId::from_uuid(fixtures::id()),
            role: None,
            message_type: MessageType::System,
            body: MessageBody::default(),
            ..full.clone()
        };
        let written = repos
            .messages
            .append_with(session.id, vec![full, bare], &[])
            .await
            .unwrap();

        let read = repos.messages.list_after(session.id, 0, 10).await.unwrap();
        let expected: Vec<_> = written
            .into_iter()
            .map(|mut m| {
                m.created_at = fixtures::at(5) + Duration::microseconds(123_456);
                m
            })
            .collect();
        assert_eq!(read, expected);
        assert!(read[1].body.raw.is_null());
    }
}
