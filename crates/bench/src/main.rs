//! `overseer-bench`: Overseer's cost beside the bare CLI's, in one run, as ratios.
//!
//! Every scenario runs the real Claude Code CLI against the in-process fake Anthropic API with
//! the same scripted turns on both sides, alternating where it can, and reports medians and
//! ratios (the machine is shared and noisy). `just bench [SCENARIO…]` builds in release mode,
//! runs the scenarios (all by default) and rewrites their sections of `docs/benchmarks.md`.
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

mod bare;
mod e2e;
mod flood;
mod http_load;
mod memory;
mod phases;
mod report;
mod runner;
mod server;
mod sessions;
mod soak;
mod stats;

use std::collections::BTreeMap;

use overseer_domain::AgentOptions;
use overseer_ports::agent::Secret;
use overseer_store::testing::PostgresGuard;
use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::script::{Reply, Script};
use serde_json::json;

use crate::bare::Cli;

/// The scripted turn both sides play: one Bash tool use, then a text answer.
pub const MARKER: &str = "bench-turn";

/// The database a server runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database for one server: SQLite in its data directory, or a fresh Postgres database
/// (dropped with this value).
#[derive(Debug)]
pub struct Database {
    url: Option<String>,
    _guard: Option<PostgresGuard>,
}

impl Database {
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "Postgres",
        }
    }

    pub async fn database(self) -> Database {
        match self {
            Self::Sqlite => Database {
                url: None,
                _guard: None,
            },
            Self::Postgres => {
                let (store, guard) = overseer_store::testing::postgres()
                    .await
                    .expect("Postgres at TEST_DATABASE_URL");
                let url = store.connection_url().to_owned();
                store.close().await.ok();
                Database {
                    url: Some(url),
                    _guard: Some(guard),
                }
            }
        }
    }
}

const SCENARIOS: [&str; 11] = [
    "runner",
    "warm",
    "warm-service",
    "e2e",
    "throughput",
    "ingest",
    "latency",
    "memory",
    "http",
    "soak",
    "sessions",
];

#[tokio::main]
async fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    let unknown: Vec<&String> = wanted
        .iter()
        .filter(|w| !SCENARIOS.contains(&w.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "unknown scenario(s) {unknown:?}; known: {SCENARIOS:?}"
    );
    let selected: Vec<&str> = if wanted.is_empty() {
        SCENARIOS.to_vec()
    } else {
        SCENARIOS
            .iter()
            .copied()
            .filter(|s| wanted.iter().any(|w| w == s))
            .collect()
    };

    let binary = overseer_testkit::cli::real_cli_path();
    assert!(
        binary.exists(),
        "{} is missing: run `npm ci` first",
        binary.display()
    );
    let binary = binary.canonicalize().unwrap();
    let api = FakeAnthropic::start().await;
    api.script(Script::new(
        MARKER,
        vec![Reply::bash("echo hi > out.txt"), Reply::text("Done.")],
    ));
    let root = server::scratch_root();
    let env = BTreeMap::from([
        ("ANTHROPIC_BASE_URL".to_owned(), Secret::new(api.base_url())),
        ("ANTHROPIC_API_KEY".to_owned(), Secret::new("sk-ant-bench")),
        (
            "CLAUDE_CONFIG_DIR".to_owned(),
            Secret::new(root.join("config").display().to_string()),
        ),
        (
            "HOME".to_owned(),
            Secret::new(root.join("home").display().to_string()),
        ),
    ]);
    // The Bash tool is pre-allowed so that neither side needs a permission answer.
    let cli = Cli {
        binary,
        env,
        root: root.clone(),
        options: AgentOptions::from_json(json!({"allowed_tools": ["Bash"]})).unwrap(),
    };
    let backends = [Backend::Sqlite, Backend::Postgres];
    for scenario in selected {
        println!("--- {scenario}");
        let table = match scenario {
            "runner" => runner::run(&cli).await,
            "warm" => runner::warm_pool(&cli).await,
            "warm-service" => e2e::warm_pool(&cli).await,
            "e2e" => e2e::single_execution(&cli, &backends).await,
            "throughput" => e2e::throughput(&cli, &backends).await,
            "ingest" => flood::ingestion(&cli, &backends).await,
            "latency" => flood::latency(&cli).await,
            "memory" => memory::run(&cli).await,
            "http" => http_load::run(&cli).await,
            "soak" => soak::run(&cli).await,
            "sessions" => sessions::run(&cli).await,
            _ => unreachable!("checked above"),
        };
        println!("{table}");
        report::write_section(scenario, &table);
    }
    server::remove(&root);
}
