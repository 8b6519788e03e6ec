//! Helpers for the end-to-end tests: start the real application on a free port, on SQLite or
//! Postgres, with the real Claude CLI (or none) pointed at the fake Anthropic API.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;

use overseer_app::{Application, DatabaseUrl, Settings};
use overseer_ports::agent::Secret;
use overseer_store::testing::{self, PostgresGuard};
use overseer_testkit::fake_api::FakeAnthropic;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A running application and what it must outlive.
#[derive(Debug)]
pub struct TestApp {
    pub address: std::net::SocketAddr,
    pub data_dir: PathBuf,
    pub api: Option<FakeAnthropic>,
    _postgres: Option<PostgresGuard>,
}

/// A fresh, empty directory under the system temp dir.
#[must_use]
pub fn temp_data_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("overseer-e2e-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("create temp data dir");
    dir
}

/// Which database the app runs on.
#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Settings for a test app: a fresh data dir, a free port, and (with an API) the real CLI
/// pointed at it with its own HOME.
fn settings(
    data_dir: PathBuf,
    database_url: Option<DatabaseUrl>,
    api: Option<&FakeAnthropic>,
    cli: Option<PathBuf>,
) -> Settings {
    let mut agent_env = vec![
        (
            "HOME".to_owned(),
            Secret::new(data_dir.join("agent-home").display().to_string()),
        ),
        (
            "CLAUDE_CONFIG_DIR".to_owned(),
            Secret::new(data_dir.join("claude-config").display().to_string()),
        ),
        ("CLAUDE_CODE_MAX_RETRIES".to_owned(), Secret::new("0")),
    ];
    if let Some(api) = api {
        agent_env.push(("ANTHROPIC_BASE_URL".to_owned(), Secret::new(api.base_url())));
        agent_env.push((
            "ANTHROPIC_API_KEY".to_owned(),
            Secret::new("sk-ant-e2e-not-real"),
        ));
    }
    std::fs::create_dir_all(data_dir.join("agent-home")).unwrap();
    // Without an agent: a stand-in that answers `--version`, so the node counts as able to run
    // agents, and whose agents fail at once.
    let claude_binary = cli.unwrap_or_else(|| overseer_testkit::cli::stand_in_cli(&data_dir));
    Settings {
        data_dir,
        database_url,
        bind: "127.0.0.1:0".parse().expect("loopback address"),
        claude_binary,
        agent_env,
        ..Settings::default()
    }
}

/// Starts the application with no database URL: the embedded SQLite default, no agent.
pub async fn spawn_sqlite(data_dir: PathBuf) -> TestApp {
    spawn_sqlite_with(data_dir, |_| {}).await
}

/// As [`spawn_sqlite`], with settings changed by `adjust`.
pub async fn spawn_sqlite_with(data_dir: PathBuf, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = settings(data_dir, None, None, None);
    adjust(&mut settings);
    spawn(settings, None, None).await
}

/// Starts the application on a fresh Postgres database, or `None` outside CI without Postgres.
pub async fn spawn_postgres() -> Option<TestApp> {
    let (store, guard) = testing::postgres().await?;
    let url = DatabaseUrl::new(store.connection_url());
    Some(
        spawn(
            settings(temp_data_dir(), Some(url), None, None),
            Some(guard),
            None,
        )
        .await,
    )
}

/// Starts the application with the real CLI and a fresh fake API (scripted by the caller), on
/// `db`; `None` when the CLI or Postgres is missing outside CI.
pub async fn spawn_with_agent(db: Db) -> Option<TestApp> {
    spawn_with_agent_and(db, |_| {}).await
}

/// [`spawn_with_agent`], with `adjust` applied to the settings first.
pub async fn spawn_with_agent_and(db: Db, adjust: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    let cli = overseer_testkit::cli::real_cli()?;
    let api = FakeAnthropic::start().await;
    let (url, guard) = match db {
        Db::Sqlite => (None, None),
        Db::Postgres => {
            let (store, guard) = testing::postgres().await?;
            (Some(DatabaseUrl::new(store.connection_url())), Some(guard))
        }
    };
    let mut settings = settings(temp_data_dir(), url, Some(&api), Some(cli));
    adjust(&mut settings);
    Some(spawn(settings, guard, Some(api)).await)
}

async fn spawn(
    settings: Settings,
    postgres: Option<PostgresGuard>,
    api: Option<FakeAnthropic>,
) -> TestApp {
    let app = Application::build(&settings)
        .await
        .expect("build the application");
    let address = app.address();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        data_dir: settings.data_dir,
        api,
        _postgres: postgres,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is harmless, a failing test over one is not.
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl TestApp {
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Sends a bodiless GET over a raw socket and returns (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.address).await.expect("connect");
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send request");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .await
            .expect("read response");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("status line");
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}
