//! Against the CI Postgres (`TEST_DATABASE_URL`): reads work, writes and long queries end as
//! clear tool errors within the timeout. Each test works on a table of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use overseer_store::testing;
use serde_json::json;

use super::*;

/// A table of three rows, dropped with the guard.
struct Probe {
    url: String,
    table: String,
}

impl Probe {
    /// `None` outside CI when Postgres is unreachable; under CI that fails the test.
    async fn create() -> Option<Self> {
        let url = testing::postgres_url();
        let mut admin = match PgConnection::connect(&url).await {
            Ok(admin) => admin,
            Err(err) => {
                testing::postgres_unreachable(&url, &err);
                return None;
            }
        };
        let table = probe_table_name();
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE TABLE {table} (id int PRIMARY KEY, name text, seen timestamptz, note text);
             INSERT INTO {table} VALUES (1, 'api', '2026-11-24T10:00:00Z', NULL),
                                        (2, 'worker', '2026-11-24T11:00:00Z', 'a|b'),
                                        (3, 'db', '2026-11-24T12:00:00Z', 'ok');"
        )))
        .execute(&mut admin)
        .await
        .expect("create the probe table");
        admin.close().await.ok();
        Some(Self { url, table })
    }

    fn server(&self, tune: impl FnOnce(&mut DatabaseConfig)) -> DatabaseServer {
        let mut config = DatabaseConfig {
            connections: BTreeMap::from([("ci".to_owned(), ConnectionUrl::new(&self.url))]),
            statement_timeout_seconds: 2,
            ..DatabaseConfig::default()
        };
        tune(&mut config);
        DatabaseServer(Arc::new(Databases::new(&config).unwrap()))
    }

    async fn count(&self) -> i64 {
        let mut admin = PgConnection::connect(&self.url).await.unwrap();
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {}",
            self.table
        )))
        .fetch_one(&mut admin)
        .await
        .unwrap();
        admin.close().await.ok();
        count
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let (url, table) = (self.url.clone(), self.table.clone());
        // Drop runs outside the test's runtime: a thread of its own cleans up.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&url).await {
                    let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}

/// Unique across the tests of this process (a counter) and across processes and earlier runs
/// (the process id and the start time). The clock alone collided: CI's clock ticks in
/// microseconds, which left a thousand names for tests that start together.
fn probe_table_name() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("tools_probe_{}_{started}_{n}", std::process::id())
}

#[test]
fn probe_tables_started_together_have_distinct_names() {
    let names: std::collections::HashSet<String> = (0..1000).map(|_| probe_table_name()).collect();
    assert_eq!(names.len(), 1000);
}

async fn query(server: &DatabaseServer, sql: &str) -> McpToolOutput {
    server
        .call("query_database", json!({ "connection": "ci", "sql": sql }))
        .await
}

#[tokio::test]
async fn a_select_returns_its_rows_as_text() {
    let Some(probe) = Probe::create().await else {
        return;
    };
    let server = probe.server(|_| {});
    let out = query(
        &server,
        &format!(
            "SELECT id, name, seen, note FROM {} ORDER BY id",
            probe.table
        ),
    )
    .await;
    assert!(!out.is_error, "{}", out.text);
    let lines: Vec<&str> = out.text.lines().collect();
    assert_eq!(lines[0], "id | name | seen | note");
    assert_eq!(lines[1], "1 | api | 2026-11-24 10:00:00+00 | NULL");
    assert_eq!(lines[2], "2 | worker | 2026-11-24 11:00:00+00 | a|b");
    assert_eq!(lines.last(), Some(&"(3 rows)"));

    let tables = server.call("list_tables", json!({})).await;
    assert!(!tables.is_error, "{}", tables.text);
    assert!(
        tables
            .text
            .contains(&format!("public.{} | BASE TABLE", probe.table)),
        "{}",
        tables.text
    );
}

#[tokio::test]
async fn writes_fail_cleanly_and_change_nothing() {
    let Some(probe) = Probe::create().await else {
        return;
    };
    let server = probe.server(|_| {});
    let table = &probe.table;
    for sql in [
        format!("INSERT INTO {table} VALUES (4, 'new', now(), NULL)"),
        format!("UPDATE {table} SET name = 'changed'"),
        format!("DELETE FROM {table}"),
        format!("COMMIT; INSERT INTO {table} VALUES (5, 'escaped', now(), NULL)"),
        format!(
            "SET default_transaction_read_only = off; INSERT INTO {table} VALUES (6, 'x', now(), NULL)"
        ),
    ] {
        let out = query(&server, &sql).await;
        assert!(out.is_error, "{sql}: {}", out.text);
        assert!(
            out.text.contains("read-only") || out.text.contains("one SQL statement"),
            "{sql}: {}",
            out.text
        );
    }
    assert_eq!(probe.count().await, 3, "no write went through");
    let names = query(&server, &format!("SELECT name FROM {table} WHERE id = 1")).await;
    assert!(names.text.contains("api"), "{}", names.text);
}

#[tokio::test]
async fn a_long_query_stops_at_the_statement_timeout() {
    let Some(probe) = Probe::create().await else {
        return;
    };
    let server = probe.server(|c| c.statement_timeout_seconds = 1);
    let started = Instant::now();
    let out = query(&server, "SELECT pg_sleep(60)").await;
    assert!(out.is_error, "{}", out.text);
    assert!(out.text.contains("statement timeout"), "{}", out.text);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn rows_and_bytes_are_capped() {
    let Some(probe) = Probe::create().await else {
        return;
    };
    let rows = probe.server(|c| c.max_rows = 2);
    let out = query(&rows, "SELECT g FROM generate_series(1, 100000) g").await;
    assert!(!out.is_error, "{}", out.text);
    assert_eq!(out.text.lines().count(), 4, "{}", out.text);
    assert!(
        out.text
            .ends_with("(2 rows shown; more were not read: the limit is 2 rows or 65536 bytes)"),
        "{}",
        out.text
    );

    let bytes = probe.server(|c| c.max_bytes = 100);
    let out = query(&bytes, "SELECT repeat('x', 40) FROM generate_series(1, 10)").await;
    assert_eq!(out.text.lines().count(), 1 + 2 + 1, "{}", out.text);
    let cell = query(&rows, "SELECT repeat('y', 5000)").await;
    assert!(cell.text.contains("(5000 bytes in all)"), "{}", cell.text);
}

#[tokio::test]
async fn mistakes_are_tool_errors_that_never_show_the_url() {
    let Some(probe) = Probe::create().await else {
        return;
    };
    let server = probe.server(|c| {
        c.connections.insert(
            "gone".to_owned(),
            ConnectionUrl::new("postgres://reader:hunter2@127.0.0.1:1/nowhere"),
        );
    });
    let gone = server
        .call(
            "query_database",
            json!({"connection": "gone", "sql": "SELECT 1"}),
        )
        .await;
    assert!(
        gone.is_error && gone.text.starts_with("gone: "),
        "{}",
        gone.text
    );
    assert!(!gone.text.contains("hunter2"), "{}", gone.text);
    let which = server
        .call("query_database", json!({"sql": "SELECT 1"}))
        .await;
    assert!(
        which.is_error && which.text.contains("ci, gone"),
        "{}",
        which.text
    );
    let stranger = probe.url.replacen("postgres@", "no_such_role_overseer@", 1);
    if stranger != probe.url {
        let server = probe.server(|c| {
            c.connections
                .insert("stranger".to_owned(), ConnectionUrl::new(&stranger));
        });
        let out = server
            .call("list_tables", json!({"connection": "stranger"}))
            .await;
        assert!(
            out.is_error && out.text.starts_with("stranger: cannot sign in"),
            "{}",
            out.text
        );
    }
    let syntax = query(&server, "SELEC 1").await;
    assert!(
        syntax.is_error && syntax.text.contains("syntax error"),
        "{}",
        syntax.text
    );
    let missing = server
        .call("query_database", json!({"connection": "ci"}))
        .await;
    assert!(missing.is_error && missing.text.contains("'sql' is required"));
}

#[test]
fn a_bad_url_is_a_configuration_error_that_hides_it() {
    let err = Databases::new(&DatabaseConfig {
        connections: BTreeMap::from([(
            "x".to_owned(),
            ConnectionUrl::new("mysql://u:s3cret@h/db"),
        )]),
        ..DatabaseConfig::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("database.connections.x") && !err.contains("s3cret"),
        "{err}"
    );
    assert!(!format!("{:?}", ConnectionUrl::new("postgres://u:s3cret@h/db")).contains("s3cret"));
}
