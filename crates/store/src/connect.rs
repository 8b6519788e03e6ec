use std::sync::Arc;
use std::time::Duration;

use overseer_migrations::{Migrator, MigratorTrait};
use overseer_ports::Repositories;
#[cfg(feature = "sqlite")]
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

use crate::repos;

/// How opening or migrating the database failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL: expected postgres://… or sqlite:…")]
    UnsupportedUrl,
    #[error("cannot connect to the database")]
    Connect(#[source] DbErr),
    #[error("cannot apply database migrations")]
    Migrate(#[source] DbErr),
    #[error("database does not answer")]
    Ping(#[source] DbErr),
    #[error("this build has no {driver} driver (the overseer-store feature `{driver}` is off)")]
    DriverNotBuilt { driver: &'static str },
}

#[async_trait::async_trait]
impl overseer_ports::HealthProbe for Store {
    fn component(&self) -> &'static str {
        "database"
    }

    async fn check(&self) -> Result<(), String> {
        // The driver's message may name hosts or users: report only that it failed.
        self.ping()
            .await
            .map_err(|_| "database does not answer".to_owned())
    }
}

/// How long a pooled connection may sit idle before it is pinged on its next checkout.
const PING_AFTER_IDLE: Duration = Duration::from_secs(30);

/// An open database: hands out the repositories and applies migrations.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    url: String,
}

impl std::fmt::Debug for Store {
    // The URL may hold a password: it is deliberately left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

/// The `application_name` of every connection of `node`: Postgres itself then knows which nodes
/// are up (a killed node's connections close with it).
#[must_use]
pub fn application_name(node: &str) -> String {
    format!("overseer:{node}")
}

impl Store {
    #[cfg(feature = "sqlite")]
    #[allow(clippy::unnecessary_wraps)]
    fn sqlite_options(options: &mut ConnectOptions, url: &str) -> Result<(), StoreError> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if in_memory {
            options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None::<Duration>)
                .max_lifetime(None::<Duration>);
        }
        options.map_sqlx_sqlite_opts(move |o| {
            let o = o
                .create_if_missing(true)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            if in_memory {
                o
            } else {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
            }
        });
        Ok(())
    }

    #[cfg(not(feature = "sqlite"))]
    fn sqlite_options(_: &mut ConnectOptions, _: &str) -> Result<(), StoreError> {
        Err(StoreError::DriverNotBuilt { driver: "sqlite" })
    }

    #[cfg(feature = "postgres")]
    #[allow(clippy::unnecessary_wraps)]
    fn postgres_options(
        options: &mut ConnectOptions,
        application_name: Option<String>,
    ) -> Result<(), StoreError> {
        // The plan cache keeps its default (generic plans after five runs): the foreign key
        // checks of every inserted row reuse their plan. Forcing custom plans, as an earlier
        // fix for the tool call lookup did, re-planned each of those checks (benchmark (c));
        // that lookup now has a plan that does not depend on the statistics.
        options.map_sqlx_postgres_opts(move |o| match &application_name {
            Some(name) => o.application_name(name),
            None => o,
        });
        Ok(())
    }

    #[cfg(not(feature = "postgres"))]
    fn postgres_options(_: &mut ConnectOptions, _: Option<String>) -> Result<(), StoreError> {
        Err(StoreError::DriverNotBuilt { driver: "postgres" })
    }

    /// Opens `url`. SQLite files are created if missing and run in WAL mode; an in-memory SQLite
    /// database gets exactly one connection (each connection would be a database of its own).
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`] for another scheme, [`StoreError::Connect`] otherwise.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::open(url, None).await
    }

    /// [`Store::connect`] for the node named `node`: on Postgres its connections carry that
    /// name, so the other nodes can tell whether it is up (see [`crate::PgClusterBus`]).
    ///
    /// # Errors
    /// As [`Store::connect`].
    pub async fn connect_as(url: &str, node: &str) -> Result<Self, StoreError> {
        Self::open(url, Some(application_name(node))).await
    }

    /// The pool's options for `url`.
    ///
    /// A connection is pinged before it is handed out only once it has been idle for
    /// [`PING_AFTER_IDLE`]: the driver's default pings on every checkout, a round trip to
    /// Postgres (a hand-off to the connection's thread on SQLite) before each statement or
    /// transaction, ≈ 45 of them per execution. Connections a server, proxy or firewall drops
    /// are idle ones, and those are still checked.
    fn pool_options(
        url: &str,
        application_name: Option<String>,
    ) -> Result<ConnectOptions, StoreError> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30))
            .test_before_acquire_if_idle_for(PING_AFTER_IDLE);
        if url.starts_with("sqlite:") {
            Self::sqlite_options(&mut options, url)?;
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::postgres_options(&mut options, application_name)?;
        } else {
            return Err(StoreError::UnsupportedUrl);
        }
        Ok(options)
    }

    async fn open(url: &str, application_name: Option<String>) -> Result<Self, StoreError> {
        let options = Self::pool_options(url, application_name)?;
        let db = Database::connect(options)
            .await
            .map_err(StoreError::Connect)?;
        Ok(Self {
            db,
            url: url.to_owned(),
        })
    }

    /// The pool, for the other adapters over the same database.
    #[must_use]
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The URL this store was opened with (it may hold a password: never log it).
    #[must_use]
    pub fn connection_url(&self) -> &str {
        &self.url
    }

    /// Applies every pending migration.
    ///
    /// # Errors
    /// [`StoreError::Migrate`].
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None)
            .await
            .map_err(StoreError::Migrate)
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// [`StoreError::Ping`].
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(StoreError::Ping)
    }

    /// `"postgres"` or `"sqlite"`.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        match self.db.get_database_backend() {
            DbBackend::Postgres => "postgres",
            DbBackend::Sqlite => "sqlite",
            _ => "other",
        }
    }

    /// Every repository, sharing this connection pool.
    #[must_use]
    pub fn repositories(&self) -> Repositories {
        let db = self.db.clone();
        Repositories {
            users: Arc::new(repos::SqlUsers(db.clone())),
            tasks: Arc::new(repos::SqlTasks(db.clone())),
            executions: Arc::new(repos::SqlExecutions(db.clone())),
            sessions: Arc::new(repos::SqlSessions(db.clone())),
            messages: Arc::new(repos::SqlMessages(db.clone())),
            tool_calls: Arc::new(repos::SqlToolCalls(db.clone())),
            audit_logs: Arc::new(repos::SqlAuditLogs(db.clone())),
            reports: Arc::new(repos::SqlReports(db.clone())),
            mcp_servers: Arc::new(repos::SqlMcpServers(db.clone())),
            approvals: Arc::new(repos::SqlApprovals(db.clone())),
            quotas: Arc::new(repos::SqlQuotas(db.clone())),
            webhooks: Arc::new(repos::SqlWebhooks(db.clone())),
            notifications: Arc::new(repos::SqlNotifications(db)),
        }
    }

    /// Closes the pool.
    ///
    /// # Errors
    /// [`StoreError::Connect`] if closing fails.
    pub async fn close(self) -> Result<(), StoreError> {
        self.db.close().await.map_err(StoreError::Connect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connections_idle_for_a_while_are_pinged_before_use() {
        for url in ["sqlite://./x.db", "postgres://postgres@127.0.0.1/test"] {
            let options = Store::pool_options(url, None).unwrap();
            assert!(!options.get_test_before_acquire(), "{url}");
            assert_eq!(
                options.get_test_before_acquire_if_idle_for(),
                Some(PING_AFTER_IDLE),
                "{url}"
            );
        }
    }
}
