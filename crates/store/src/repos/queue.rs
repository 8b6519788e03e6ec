//! The execution queue's claim, as one statement per backend.
//!
//! Fair share: among users under their limit, the one with the fewest running runs first; among
//! those, the user served least recently (the latest `started_at` of their runs, never served
//! first), so a user whose runs all just ended does not win a tie against one still waiting;
//! then the oldest pending run. On Postgres, claims from every node are serialized by a transaction
//! advisory lock (so the global and per-user limits hold across nodes), and the row is taken
//! `FOR UPDATE SKIP LOCKED` (so a row another transaction is changing — a cancel — is passed
//! over, not waited for). SQLite has one writer: the single `UPDATE … WHERE id = (SELECT …)`
//! is atomic on its own.

use overseer_ports::RepoError;
use overseer_ports::repositories::ClaimLimits;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::convert::unavailable;

/// An arbitrary constant naming the claim lock among advisory locks.
const CLAIM_LOCK: i64 = 0x6f76_6572_7365_6572; // "overseer"

fn claim_sql(backend: DbBackend) -> String {
    let (p, lock) = match backend {
        DbBackend::Postgres => (
            ["$1", "$2", "$3", "$4", "$5"],
            " FOR UPDATE OF e SKIP LOCKED",
        ),
        // Numbered: `now` appears twice.
        _ => (["?1", "?2", "?3", "?4", "?5"], ""),
    };
    format!(
        "WITH running AS (SELECT user_id, COUNT(*) AS n FROM task_executions WHERE status = 'running' GROUP BY user_id) \
         UPDATE task_executions SET status = 'running', lease_owner = {owner}, lease_expires_at = {until}, \
                attempts = attempts + 1, started_at = {now}, updated_at = {now} \
         WHERE status = 'pending' AND id = ( \
             SELECT e.id FROM task_executions e LEFT JOIN running r ON r.user_id = e.user_id \
             WHERE e.status = 'pending' AND COALESCE(r.n, 0) < {per_user} \
               AND (SELECT COUNT(*) FROM task_executions WHERE status = 'running') < {global} \
             ORDER BY COALESCE(r.n, 0), \
                      (SELECT MAX(s.started_at) FROM task_executions s WHERE s.user_id = e.user_id) ASC NULLS FIRST, \
                      e.created_at, e.id LIMIT 1{lock}) \
         RETURNING id",
        owner = p[0],
        until = p[1],
        now = p[2],
        per_user = p[3],
        global = p[4],
    )
}

/// Claims one pending execution; returns its id.
pub(crate) async fn claim(
    db: &DatabaseConnection,
    node: &str,
    limits: ClaimLimits,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<Option<Uuid>, RepoError> {
    let backend = db.get_database_backend();
    let values: Vec<Value> = vec![
        node.into(),
        lease_until.into(),
        now.into(),
        i64::from(limits.per_user).into(),
        i64::from(limits.global).into(),
    ];
    let statement = Statement::from_sql_and_values(backend, claim_sql(backend), values);
    let txn = db.begin().await.map_err(unavailable)?;
    if backend == DbBackend::Postgres {
        let lock = Statement::from_sql_and_values(
            backend,
            "SELECT pg_advisory_xact_lock($1)",
            [CLAIM_LOCK.into()],
        );
        txn.execute_raw(lock).await.map_err(unavailable)?;
    }
    let row = txn.query_one_raw(statement).await.map_err(unavailable)?;
    txn.commit().await.map_err(unavailable)?;
    row.map(|r| r.try_get::<Uuid>("", "id"))
        .transpose()
        .map_err(unavailable)
}
