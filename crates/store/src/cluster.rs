//! The cluster bus on Postgres: notes travel by `NOTIFY` on one channel and arrive by `LISTEN`.
//! Each carries its sender's node name so a node ignores its own.

use std::sync::Arc;

use async_trait::async_trait;
use overseer_domain::{ApprovalId, SessionId, SessionStatus};
use overseer_ports::{
    ClusterBus, Command, EventNote, NoteHandler, NoteKind, RepoError, StoredEvent,
};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

use crate::Store;
use crate::connect::application_name;
use crate::convert::unavailable;

const CHANNEL: &str = "overseer_events";

/// Notes between the nodes sharing one Postgres database.
#[derive(Clone, Debug)]
pub struct PgClusterBus {
    db: DatabaseConnection,
    node: Arc<str>,
}

impl PgClusterBus {
    /// The bus of `store` for the node named `node`; `None` unless the store is Postgres.
    #[must_use]
    pub fn new(store: &Store, node: &str) -> Option<Self> {
        (store.backend_name() == "postgres").then(|| Self {
            db: store.connection().clone(),
            node: Arc::from(node),
        })
    }
}

// The payload: `{"node", "session", "seq", "kind", "ref", "to", "through"}`. `kind` is the live
// event's kind (`message`, `messages`, `status`, `approval`) or the command's
// (`deliver_message`, `interrupt`, `approval_answered`); `ref` is the approval id, or
// `from>to` of a status change; `to` is the node a command is for; `through` is the last
// sequence of a run of `messages`. A single message stays `message`, as nodes before runs
// existed announce and understand it.
const DELIVER_MESSAGE: &str = "deliver_message";
const INTERRUPT: &str = "interrupt";
const APPROVAL_ANSWERED: &str = "approval_answered";

fn encode(node: &str, note: &EventNote) -> String {
    let (kind, reference, target) = match &note.kind {
        NoteKind::Event(StoredEvent::Messages { through }) if *through == note.sequence => {
            ("message", None, None)
        }
        NoteKind::Event(StoredEvent::Messages { .. }) => ("messages", None, None),
        NoteKind::Event(StoredEvent::Status { from, to }) => {
            ("status", Some(format!("{from}>{to}")), None)
        }
        NoteKind::Event(StoredEvent::Approval { approval_id }) => {
            ("approval", Some(approval_id.to_string()), None)
        }
        NoteKind::Command { node, command } => {
            let (kind, reference) = match command {
                Command::DeliverMessage => (DELIVER_MESSAGE, None),
                Command::Interrupt => (INTERRUPT, None),
                Command::ApprovalAnswered { approval_id } => {
                    (APPROVAL_ANSWERED, Some(approval_id.to_string()))
                }
            };
            (kind, reference, node.as_deref())
        }
    };
    let mut payload = json!({
        "node": node, "session": note.session_id, "seq": note.sequence,
        "kind": kind, "ref": reference, "to": target,
    });
    if let NoteKind::Event(StoredEvent::Messages { through }) = note.kind
        && through != note.sequence
    {
        payload["through"] = json!(through);
    }
    payload.to_string()
}

/// The note in `payload` and its sender; `None` for a payload this node does not understand
/// (a newer node's note: ignored).
fn decode(payload: &str) -> Option<(String, EventNote)> {
    let value: Value = serde_json::from_str(payload).ok()?;
    let reference = value["ref"].as_str();
    let approval_id = || reference?.parse::<ApprovalId>().ok();
    let target = value["to"].as_str().map(str::to_owned);
    let sequence = value["seq"].as_u64()?;
    let kind = match value["kind"].as_str()? {
        "message" => NoteKind::Event(StoredEvent::Messages { through: sequence }),
        "messages" => NoteKind::Event(StoredEvent::Messages {
            through: value["through"].as_u64().filter(|t| *t >= sequence)?,
        }),
        "status" => {
            let (from, to) = reference?.split_once('>')?;
            NoteKind::Event(StoredEvent::Status {
                from: from.parse::<SessionStatus>().ok()?,
                to: to.parse::<SessionStatus>().ok()?,
            })
        }
        "approval" => NoteKind::Event(StoredEvent::Approval {
            approval_id: approval_id()?,
        }),
        DELIVER_MESSAGE => NoteKind::Command {
            node: target,
            command: Command::DeliverMessage,
        },
        INTERRUPT => NoteKind::Command {
            node: target,
            command: Command::Interrupt,
        },
        APPROVAL_ANSWERED => NoteKind::Command {
            node: target,
            command: Command::ApprovalAnswered {
                approval_id: approval_id()?,
            },
        },
        _ => return None,
    };
    let note = EventNote {
        session_id: value["session"].as_str()?.parse::<SessionId>().ok()?,
        sequence,
        kind,
    };
    Some((value["node"].as_str()?.to_owned(), note))
}

#[async_trait]
impl ClusterBus for PgClusterBus {
    async fn announce(&self, note: &EventNote) -> Result<(), RepoError> {
        self.announce_all(std::slice::from_ref(note)).await
    }

    async fn announce_all(&self, notes: &[EventNote]) -> Result<(), RepoError> {
        if notes.is_empty() {
            return Ok(());
        }
        // One statement, one transaction: Postgres delivers its notifications in the order
        // they were sent, after the commit.
        let payloads: Vec<String> = notes.iter().map(|n| encode(&self.node, n)).collect();
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, payload) FROM json_array_elements_text($2::text::json) \
             WITH ORDINALITY AS n(payload, position) ORDER BY position",
            [CHANNEL.into(), Value::from(payloads).to_string().into()],
        );
        self.db.execute_raw(statement).await.map_err(unavailable)?;
        Ok(())
    }

    async fn is_alive(&self, node: &str) -> Result<bool, RepoError> {
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity \
             WHERE application_name = $1 AND datname = current_database()) AS alive",
            [application_name(node).into()],
        );
        let row = self
            .db
            .query_one_raw(statement)
            .await
            .map_err(unavailable)?;
        Ok(row
            .and_then(|row| row.try_get::<bool>("", "alive").ok())
            .unwrap_or(false))
    }

    fn listen(&self, handler: NoteHandler) {
        let pool = self.db.get_postgres_connection_pool().clone();
        let node = self.node.clone();
        tokio::spawn(async move {
            let mut listener = loop {
                match PgListener::connect_with(&pool).await {
                    Ok(mut listener) => match listener.listen(CHANNEL).await {
                        Ok(()) => break listener,
                        Err(err) => tracing::warn!(error = %err, "cannot LISTEN"),
                    },
                    Err(err) => tracing::warn!(error = %err, "cannot open the LISTEN connection"),
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            };
            loop {
                // `recv` reconnects by itself; notes sent meanwhile are lost (subscribers
                // resume from the database with `after=`).
                match listener.recv().await {
                    Ok(notification) => match decode(notification.payload()) {
                        Some((sender, note)) if *sender != *node => handler(note),
                        Some(_) => {}
                        None => tracing::warn!("ignoring a malformed cluster note"),
                    },
                    Err(err) => {
                        if pool.is_closed() {
                            return;
                        }
                        tracing::warn!(error = %err, "LISTEN failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_round_trip_through_their_payload() {
        let session = SessionId::from_uuid(uuid::Uuid::now_v7());
        let approval_id = ApprovalId::from_uuid(uuid::Uuid::now_v7());
        let notes = [
            EventNote::event(session, 42, StoredEvent::Messages { through: 42 }),
            EventNote::event(session, 40, StoredEvent::Messages { through: 41 }),
            EventNote::event(
                session,
                43,
                StoredEvent::Status {
                    from: SessionStatus::Processing,
                    to: SessionStatus::Active,
                },
            ),
            EventNote::event(session, 44, StoredEvent::Approval { approval_id }),
            EventNote::command(session, 45, Command::DeliverMessage, Some("node-b".into())),
            EventNote::command(session, 0, Command::Interrupt, Some("node-b".into())),
            EventNote::command(session, 0, Command::ApprovalAnswered { approval_id }, None),
        ];
        for note in notes {
            let (sender, decoded) = decode(&encode("node-a", &note)).unwrap();
            assert_eq!((sender.as_str(), decoded), ("node-a", note));
        }
    }

    #[test]
    fn the_payload_keeps_its_wire_format_and_unknown_notes_are_ignored() {
        let session = SessionId::from_uuid(uuid::Uuid::nil());
        let payload: Value = serde_json::from_str(&encode(
            "node-a",
            &EventNote::event(
                session,
                7,
                StoredEvent::Status {
                    from: SessionStatus::Processing,
                    to: SessionStatus::Failed,
                },
            ),
        ))
        .unwrap();
        assert_eq!(
            payload,
            json!({"node": "node-a", "session": session, "seq": 7, "kind": "status",
                   "ref": "processing>failed", "to": null})
        );
        let unknown = json!({"node": "b", "session": session, "seq": 1, "kind": "telepathy"});
        assert!(decode(&unknown.to_string()).is_none());
        let bad_status =
            json!({"node": "b", "session": session, "seq": 1, "kind": "status", "ref": "x"});
        assert!(decode(&bad_status.to_string()).is_none());
        assert!(decode("{}").is_none());

        // One message keeps the form nodes before runs of messages announce and understand;
        // a run names its last sequence, which cannot come before its first.
        let single = EventNote::event(session, 9, StoredEvent::Messages { through: 9 });
        let payload: Value = serde_json::from_str(&encode("node-a", &single)).unwrap();
        assert_eq!(
            payload,
            json!({"node": "node-a", "session": session, "seq": 9, "kind": "message",
                   "ref": null, "to": null})
        );
        let run = EventNote::event(session, 9, StoredEvent::Messages { through: 264 });
        let payload: Value = serde_json::from_str(&encode("node-a", &run)).unwrap();
        assert_eq!(
            (payload["kind"].as_str(), payload["through"].as_u64()),
            (Some("messages"), Some(264))
        );
        let backwards =
            json!({"node": "b", "session": session, "seq": 9, "kind": "messages", "through": 8});
        assert!(decode(&backwards.to_string()).is_none());
        assert!(decode("not json").is_none());
    }
}
