//! `database`: `list_tables` and `query_database` against Postgres connections an admin names.
//!
//! Read-only is enforced three ways, so no single mistake opens writes: the connection starts
//! with `default_transaction_read_only` and a `statement_timeout`, every query runs inside
//! `BEGIN READ ONLY … ROLLBACK`, and the SQL must be one statement (it is prepared first,
//! which Postgres refuses for several), so `COMMIT; …` cannot leave the transaction. A fresh
//! connection per call means nothing a query changes in the session outlives it. Rows are read
//! as text (the simple protocol) up to a row and a byte cap.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use overseer_ports::agent::{McpTool, McpToolOutput, McpToolServer, ToolServerFactory};
use serde::Deserialize;
use serde_json::{Map, Value};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{AssertSqlSafe, Column, Connection, Executor, Row, SqlSafeStr};

use crate::ToolsConfigError;
use crate::tool::{excerpt, known_keys, optional_text, output, refusal, required_text, tool};

/// Most of one value shown.
const MAX_CELL_BYTES: usize = 1024;
/// Time to connect, on top of the statement timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const LIST_TABLES: &str = "SELECT table_schema || '.' || table_name AS \"table\", table_type \
     FROM information_schema.tables \
     WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
     ORDER BY 1";

/// A connection URL. It holds a password, so it never prints.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct ConnectionUrl(String);

impl ConnectionUrl {
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }
}

impl std::fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectionUrl(<redacted>)")
    }
}

/// The `[tools.database]` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Named Postgres connections (`analytics = "postgres://reader:…@db/analytics"`). The
    /// service's own database is reachable only if an admin names it here.
    pub connections: BTreeMap<String, ConnectionUrl>,
    /// How long one query may run.
    pub statement_timeout_seconds: u64,
    /// Most rows one query returns.
    pub max_rows: usize,
    /// Most bytes of rows one query returns.
    pub max_bytes: usize,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            connections: BTreeMap::new(),
            statement_timeout_seconds: 5,
            max_rows: 200,
            max_bytes: 64 * 1024,
        }
    }
}

/// The checked configuration, shared by every session.
#[derive(Debug)]
struct Databases {
    connections: BTreeMap<String, PgConnectOptions>,
    statement_timeout: Duration,
    max_rows: usize,
    max_bytes: usize,
}

impl Databases {
    fn new(config: &DatabaseConfig) -> Result<Self, ToolsConfigError> {
        let statement_timeout = Duration::from_secs(config.statement_timeout_seconds.max(1));
        let millis = statement_timeout.as_millis().to_string();
        let connections = config
            .connections
            .iter()
            .map(|(name, url)| {
                // sqlx's message may quote the URL, password and all: name the key only.
                let invalid = || {
                    ToolsConfigError::new(
                        &format!("database.connections.{name}"),
                        "is not a postgres:// URL",
                    )
                };
                if !(url.0.starts_with("postgres://") || url.0.starts_with("postgresql://")) {
                    return Err(invalid());
                }
                let options = PgConnectOptions::from_str(&url.0).map_err(|_| invalid())?;
                let options = options.application_name("overseer-tools").options([
                    ("default_transaction_read_only", "on"),
                    ("statement_timeout", millis.as_str()),
                    ("lock_timeout", millis.as_str()),
                    ("idle_in_transaction_session_timeout", millis.as_str()),
                ]);
                Ok((name.clone(), options))
            })
            .collect::<Result<_, ToolsConfigError>>()?;
        Ok(Self {
            connections,
            statement_timeout,
            max_rows: config.max_rows.max(1),
            max_bytes: config.max_bytes.max(1),
        })
    }

    /// The connection a call names, or the only one there is.
    fn connection(&self, arguments: &Value) -> Result<(&str, &PgConnectOptions), String> {
        let names = || {
            let names: Vec<&str> = self.connections.keys().map(String::as_str).collect();
            if names.is_empty() {
                "none are configured".to_owned()
            } else {
                names.join(", ")
            }
        };
        match optional_text(arguments, "connection")? {
            Some(name) => self
                .connections
                .get_key_value(&name)
                .map(|(name, options)| (name.as_str(), options))
                .ok_or_else(|| {
                    format!("no connection is named '{name}' (connections: {})", names())
                }),
            None if self.connections.len() == 1 => self
                .connections
                .iter()
                .next()
                .map(|(name, options)| (name.as_str(), options))
                .ok_or_else(names),
            None => Err(format!(
                "'connection' is required (connections: {})",
                names()
            )),
        }
    }

    /// Runs `sql` read-only on the named connection and renders the rows.
    async fn query(&self, arguments: &Value, sql: &str) -> Result<String, String> {
        let (name, options) = self.connection(arguments)?;
        let within = CONNECT_TIMEOUT + self.statement_timeout + Duration::from_secs(1);
        match tokio::time::timeout(within, self.query_on(name, options, sql)).await {
            Ok(result) => result,
            // The server stops the statement itself; this only guards against a stalled link.
            Err(_) => Err(format!(
                "{name}: no answer within {} s; the query was abandoned",
                within.as_secs()
            )),
        }
    }

    async fn query_on(
        &self,
        name: &str,
        options: &PgConnectOptions,
        sql: &str,
    ) -> Result<String, String> {
        let explain = |error: sqlx::Error| explain(name, self.statement_timeout, &error);
        let mut connection = match tokio::time::timeout(
            CONNECT_TIMEOUT,
            PgConnection::connect_with(options),
        )
        .await
        {
            Ok(connected) => connected.map_err(explain)?,
            Err(_) => {
                return Err(format!(
                    "{name}: cannot connect within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ));
            }
        };
        let result = self.read_only(&mut connection, sql).await.map_err(explain);
        // The connection ends with the call: nothing a query set outlives it.
        let _ = connection.close_hard().await;
        result
    }

    async fn read_only(
        &self,
        connection: &mut PgConnection,
        sql: &str,
    ) -> Result<String, sqlx::Error> {
        let mut transaction = connection.begin_with("BEGIN TRANSACTION READ ONLY").await?;
        // Preparing refuses more than one statement, so the query cannot end the transaction
        // and go on outside it.
        (&mut *transaction)
            .prepare(AssertSqlSafe(sql.to_owned()).into_sql_str())
            .await?;
        let mut table = Table::new(self.max_rows, self.max_bytes);
        {
            let mut rows = sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).fetch(&mut *transaction);
            while let Some(row) = rows.try_next().await? {
                if !table.push(&row) {
                    break;
                }
            }
        }
        transaction.rollback().await?;
        Ok(table.render())
    }
}

/// Rows as text, up to the caps.
struct Table {
    columns: Vec<String>,
    lines: Vec<String>,
    bytes: usize,
    max_rows: usize,
    max_bytes: usize,
    cut: bool,
}

impl Table {
    fn new(max_rows: usize, max_bytes: usize) -> Self {
        Self {
            columns: Vec::new(),
            lines: Vec::new(),
            bytes: 0,
            max_rows,
            max_bytes,
            cut: false,
        }
    }

    /// Adds a row; false once a cap is reached (the row is then left out).
    fn push(&mut self, row: &PgRow) -> bool {
        if self.columns.is_empty() {
            self.columns = row.columns().iter().map(|c| c.name().to_owned()).collect();
        }
        let cells: Vec<String> = (0..row.len())
            .map(|i| {
                // Simple-protocol rows are text whatever the column type.
                match row.try_get_unchecked::<Option<&str>, _>(i) {
                    Ok(Some(text)) => excerpt(text, MAX_CELL_BYTES),
                    Ok(None) => "NULL".to_owned(),
                    Err(_) => "?".to_owned(),
                }
            })
            .collect();
        let line = cells.join(" | ");
        if self.lines.len() >= self.max_rows || self.bytes + line.len() > self.max_bytes {
            self.cut = true;
            return false;
        }
        self.bytes += line.len() + 1;
        self.lines.push(line);
        true
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if !self.columns.is_empty() {
            out.push_str(&self.columns.join(" | "));
            out.push('\n');
        }
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        let count = self.lines.len();
        let plural = if count == 1 { "" } else { "s" };
        if self.cut {
            out.push_str(&format!(
                "({count} row{plural} shown; more were not read: the limit is {} rows or {} bytes)",
                self.max_rows, self.max_bytes
            ));
        } else {
            out.push_str(&format!("({count} row{plural})"));
        }
        out
    }
}

/// A driver error as the model should read it; never the connection URL.
fn explain(name: &str, timeout: Duration, error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("25006") => format!(
                "{name}: refused, this connection is read-only ({})",
                db.message()
            ),
            Some("57014") => format!(
                "{name}: stopped, the query ran past the {} s statement timeout",
                timeout.as_secs()
            ),
            Some(code) if code.starts_with("28") => {
                format!("{name}: cannot sign in ({})", db.message())
            }
            Some("55P03") => format!("{name}: stopped waiting for a lock ({})", db.message()),
            Some("42601") if db.message().contains("multiple commands") => {
                format!("{name}: send one SQL statement at a time")
            }
            _ => format!("{name}: the database refused the query: {}", db.message()),
        },
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => format!("{name}: cannot reach the database"),
        other => format!("{name}: {other}"),
    }
}

/// The `database` server of one session.
#[derive(Debug)]
struct DatabaseServer(Arc<Databases>);

#[async_trait]
impl McpToolServer for DatabaseServer {
    fn tools(&self) -> Vec<McpTool> {
        let connection = (
            "connection",
            "The named connection (may be left out when there is only one)",
            false,
        );
        vec![
            tool(
                "list_tables",
                "Lists the tables and views of a database connection.",
                &[connection],
            ),
            tool(
                "query_database",
                "Runs one read-only SQL statement and returns its rows (capped).",
                &[
                    connection,
                    ("sql", "One SQL statement, e.g. a SELECT", true),
                ],
            ),
        ]
    }

    async fn call(&self, tool: &str, arguments: Value) -> McpToolOutput {
        match tool {
            "list_tables" => output(self.0.query(&arguments, LIST_TABLES).await),
            "query_database" => match required_text(&arguments, "sql") {
                Ok(sql) => output(self.0.query(&arguments, &sql).await),
                Err(reason) => refusal(reason),
            },
            other => refusal(format!("database has no tool '{other}'")),
        }
    }
}

/// Opens the `database` server for sessions.
#[derive(Debug)]
pub(crate) struct DatabaseFactory(Arc<Databases>);

impl DatabaseFactory {
    pub(crate) fn new(config: &DatabaseConfig) -> Result<Self, ToolsConfigError> {
        Ok(Self(Arc::new(Databases::new(config)?)))
    }
}

impl ToolServerFactory for DatabaseFactory {
    fn check(&self, settings: &Map<String, Value>) -> Result<(), String> {
        known_keys(settings, &[])
    }

    fn open(&self, _settings: &Map<String, Value>) -> Arc<dyn McpToolServer> {
        Arc::new(DatabaseServer(self.0.clone()))
    }
}

#[cfg(test)]
mod tests;
