//! A fresh, migrated database for each test, so tests run in parallel without sharing state.
//!
//! Postgres tests read `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! create a database of their own from it and drop it when the guard goes. If Postgres cannot
//! be reached the test is skipped with a message, except under CI (`CI=true`), where it fails.
//!
//! Test support: a setup failure is a test failure, so these functions panic.
#![allow(clippy::expect_used)]

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};

use crate::{Store, StoreError};

/// Where Postgres tests connect when `TEST_DATABASE_URL` is not set.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A migrated in-memory SQLite store of its own.
///
/// # Panics
/// If SQLite cannot be opened or migrated: the test cannot run.
pub async fn sqlite_memory() -> Store {
    let store = Store::connect("sqlite::memory:")
        .await
        .expect("open in-memory SQLite");
    store.migrate().await.expect("migrate in-memory SQLite");
    store
}

/// Removes a SQLite file database (and its WAL files) when dropped.
#[derive(Debug)]
pub struct SqliteFileGuard {
    dir: std::path::PathBuf,
}

impl Drop for SqliteFileGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A migrated SQLite store in a file of its own, pooled and in WAL mode like the embedded
/// default, so concurrent writers really contend.
///
/// # Panics
/// If the file cannot be created or migrated.
pub async fn sqlite_file() -> (Store, SqliteFileGuard) {
    let dir = std::env::temp_dir().join(format!(
        "overseer-store-test-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).expect("create the test directory");
    let url = format!("sqlite://{}", dir.join("overseer.db").display());
    let store = Store::connect(&url).await.expect("open SQLite file");
    store.migrate().await.expect("migrate SQLite file");
    (store, SqliteFileGuard { dir })
}

/// Drops its Postgres database when dropped (also when the test panics).
#[derive(Debug)]
pub struct PostgresGuard {
    admin_url: String,
    database: String,
}

impl Drop for PostgresGuard {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.database);
        // Drop runs outside any async context we may block: use a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let admin = Database::connect(admin_url)
                    .await
                    .map_err(std::io::Error::other)?;
                admin
                    .execute_unprepared(&statement)
                    .await
                    .map_err(std::io::Error::other)?;
                admin.close().await.map_err(std::io::Error::other)
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database {}", self.database);
        }
    }
}

/// Where Postgres tests connect: `TEST_DATABASE_URL`, or [`DEFAULT_TEST_DATABASE_URL`].
#[must_use]
pub fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned())
}

/// What a Postgres test does when `url` cannot be reached: fail under CI (`CI=true`), say it
/// is skipped elsewhere.
///
/// # Panics
/// Under CI.
pub fn postgres_unreachable(url: &str, err: &dyn std::fmt::Display) {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !in_ci,
        "Postgres at TEST_DATABASE_URL is unreachable under CI: {err}"
    );
    eprintln!("skipping Postgres test: {url} is unreachable ({err}); CI=true makes this fail");
}

/// A migrated Postgres store in a database of its own, or `None` when Postgres is unreachable
/// outside CI.
///
/// # Panics
/// Under CI when Postgres is unreachable; anywhere when a reachable Postgres refuses to create
/// or migrate the database.
pub async fn postgres() -> Option<(Store, PostgresGuard)> {
    let admin_url = postgres_url();
    let admin = match connect_admin(&admin_url).await {
        Ok(admin) => admin,
        Err(err) => {
            postgres_unreachable(&admin_url, &err);
            return None;
        }
    };
    let database = format!("overseer_test_{}", uuid::Uuid::now_v7().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{database}\""))
        .await
        .expect("create the test database");
    admin.close().await.ok();
    let guard = PostgresGuard {
        admin_url: admin_url.clone(),
        database: database.clone(),
    };
    let store = Store::connect(&with_database(&admin_url, &database))
        .await
        .expect("connect to the test database");
    store.migrate().await.expect("migrate the test database");
    Some((store, guard))
}

/// A one-connection pool that gives up quickly: an unreachable server should fail (or skip)
/// a test in seconds, not after the pool's default wait.
async fn connect_admin(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .connect_timeout(Duration::from_secs(3))
        .acquire_timeout(Duration::from_secs(3))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// `url` with its database name replaced by `database` (query parameters kept).
#[must_use]
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Opens and migrates a store for `url`, for tests that pick their backend at runtime.
///
/// # Errors
/// Whatever connecting or migrating fails with.
pub async fn open(url: &str) -> Result<Store, StoreError> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    Ok(store)
}

/// Every row of every table of a Postgres store, each as its JSON text, for tests that search
/// the whole database for a value.
///
/// # Panics
/// If the store cannot be read.
pub async fn postgres_rows_as_text(store: &Store) -> Vec<String> {
    use sea_orm::{DbBackend, Statement};

    let db = store.connection();
    let tables = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        ))
        .await
        .expect("list the tables");
    let mut rows = Vec::new();
    for table in tables {
        let name: String = table.try_get("", "name").expect("a table name");
        let sql = format!(
            "SELECT row_to_json(t)::text AS row FROM \"{}\" t",
            name.replace('"', "\"\"")
        );
        let found = db
            .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .expect("read a table");
        for row in found {
            let text: String = row.try_get("", "row").expect("a row as JSON");
            rows.push(format!("{name}: {text}"));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t2"),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "t3"),
            "postgres://h:5432/t3"
        );
    }
}
