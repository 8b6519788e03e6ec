//! The cluster bus on Postgres: notes travel by `NOTIFY` on one channel and arrive by `LISTEN`.
//! Each carries its sender's node name so a node ignores its own.

use std::sync::Arc;

use async_trait::async_trait;
use overseer_domain::SessionId;
use overseer_ports::{ClusterBus, EventNote, NoteHandler, RepoError};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

use crate::Store;
use crate::convert::unavailable;

const CHANNEL: &str = "overseer_events";

/// The `application_name` of every connection of `node`: Postgres itself then knows which nodes
/// are up (a killed node's connections close with it).
#[must_use]
pub fn application_name(node: &str) -> String {
    format!("overseer:{node}")
}

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

fn encode(node: &str, note: &EventNote) -> String {
    json!({
        "node": node, "session": note.session_id, "seq": note.sequence,
        "kind": note.kind, "ref": note.reference, "to": note.target,
    })
    .to_string()
}

/// The note in `payload` and its sender.
fn decode(payload: &str) -> Option<(String, EventNote)> {
    let value: Value = serde_json::from_str(payload).ok()?;
    let note = EventNote {
        session_id: value["session"].as_str()?.parse::<SessionId>().ok()?,
        sequence: value["seq"].as_u64()?,
        kind: value["kind"].as_str()?.to_owned(),
        reference: value["ref"].as_str().map(str::to_owned),
        target: value["to"].as_str().map(str::to_owned),
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
        let note = EventNote {
            session_id: SessionId::from_uuid(uuid::Uuid::now_v7()),
            sequence: 42,
            kind: "approval".to_owned(),
            reference: Some("0190-…".to_owned()),
            target: Some("node-b".to_owned()),
        };
        let (sender, decoded) = decode(&encode("node-a", &note)).unwrap();
        assert_eq!((sender.as_str(), decoded), ("node-a", note));
        assert!(decode("{}").is_none());
        assert!(decode("not json").is_none());
    }
}
