//! (c) Ingestion: the fake CLI floods events as fast as it can and the service persists them;
//! beside it, the raw single-row insert rate of the same database. (d) Live latency: the fake
//! CLI stamps each stdout line; 100 WebSocket subscribers compare the stamp with their clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use overseer_domain::{ExecutionId, MessageType};
use overseer_ports::Scope;
use overseer_testkit::http_api::Method;
use overseer_testkit::live_stream;
use overseer_testkit::script::{Reply, Script};
use sea_orm::{ConnectionTrait, Database as Db};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::bare::Cli;
use crate::server::{Server, Tenant, rss_mib};
use crate::stats::{percentile, verdict};
use crate::{Backend, Database};

const FLOOD_EVENTS: usize = 100_000;
const RAW_INSERT_SECONDS: u64 = 5;
const SUBSCRIBERS: usize = 100;
const LATENCY_EVENTS: usize = 600;

/// The fake `claude` built next to this binary, playing `script`.
pub fn fake_cli(cli: &Cli, script: Script) -> Cli {
    let binary = std::env::current_exe()
        .unwrap()
        .with_file_name("fake-claude");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build --release -p overseer-testkit`",
        binary.display()
    );
    let mut fake = cli.clone();
    fake.binary = binary;
    fake.env.insert(
        "FAKE_CLAUDE_SCRIPTS".to_owned(),
        overseer_ports::agent::Secret::new(serde_json::to_string(&vec![script]).unwrap()),
    );
    fake
}

/// Single-row autocommit inserts of a message-sized row for a few seconds: rows per second.
async fn raw_insert_rate(url: &str, postgres: bool) -> f64 {
    let db = Db::connect(url)
        .await
        .expect("open the raw-insert database");
    let (create, insert) = if postgres {
        (
            "CREATE TABLE bench_raw (id BIGSERIAL PRIMARY KEY, session_id TEXT NOT NULL, seq BIGINT NOT NULL, content TEXT NOT NULL)",
            "INSERT INTO bench_raw (session_id, seq, content) VALUES ($1, $2, $3)",
        )
    } else {
        db.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .await
            .unwrap();
        (
            "CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL, content TEXT NOT NULL)",
            "INSERT INTO bench_raw (session_id, seq, content) VALUES (?, ?, ?)",
        )
    };
    db.execute_unprepared(create).await.unwrap();
    let content = json!({"type": "assistant", "message": {"id": "msg_x", "role": "assistant",
        "content": [{"type": "text", "text": "event 12345"}], "usage": {"input_tokens": 1, "output_tokens": 1}}})
    .to_string();
    let backend = db.get_database_backend();
    let until = Instant::now() + Duration::from_secs(RAW_INSERT_SECONDS);
    let mut rows = 0_u64;
    while Instant::now() < until {
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            insert,
            [
                "00000000-0000-0000-0000-000000000000".into(),
                i64::try_from(rows).unwrap().into(),
                content.clone().into(),
            ],
        ))
        .await
        .unwrap();
        rows += 1;
    }
    db.execute_unprepared("DROP TABLE bench_raw").await.unwrap();
    rows as f64 / RAW_INSERT_SECONDS as f64
}

/// Samples a process's RSS every 250 ms until told to stop; (first, max, last) in MiB.
fn sample_rss(pid: u32) -> (Arc<Mutex<Vec<f64>>>, tokio::task::JoinHandle<()>) {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sink = samples.clone();
    let task = tokio::spawn(async move {
        loop {
            sink.lock().await.push(rss_mib(pid));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    (samples, task)
}

pub async fn ingestion(cli: &Cli, backends: &[Backend]) -> String {
    let mut out = String::from(
        "| backend | events persisted | events/s persisted | raw single-row inserts/s (the limit) | service RSS: start / ¼ / ½ / ¾ / end of the run (max) | target ≥ 20,000 events/s |\n|---|---|---|---|---|---|\n",
    );
    for backend in backends {
        let database: Database = backend.database().await;
        let raw = match database.url() {
            Some(url) => raw_insert_rate(url, true).await,
            None => {
                let file = cli.root.join("raw-insert.db");
                raw_insert_rate(&format!("sqlite://{}?mode=rwc", file.display()), false).await
            }
        };
        let script = Script::new(
            "bench-flood",
            vec![Reply::Flood {
                events: FLOOD_EVENTS,
                interval_us: 0,
            }],
        );
        let fake = fake_cli(cli, script);
        let label = format!("c-{}", backend.name());
        let server = Server::start(&fake, &label, database.url(), &[]).await;
        let tenant = Tenant::new(&server, "flood@example.com", &Value::Null).await;
        let (samples, sampler) = sample_rss(server.pid());
        let run = tenant.wait(&tenant.execute("bench-flood").await).await;
        sampler.abort();
        assert_eq!(run["status"], json!("completed"), "{run}");
        let store = overseer_store::Store::connect(&server.database_url)
            .await
            .unwrap();
        let repos = store.repositories();
        let execution = repos
            .executions
            .get(
                run["id"].as_str().unwrap().parse::<ExecutionId>().unwrap(),
                Scope::Admin,
            )
            .await
            .unwrap();
        let session = execution.session_id.unwrap();
        let mut stored = 0_usize;
        let (mut first, mut last) = (None, None);
        let mut after = 0;
        loop {
            let page = repos
                .messages
                .list_after(session, after, 1000)
                .await
                .unwrap();
            let Some(tail) = page.last() else { break };
            after = tail.sequence_number;
            for message in &page {
                stored += 1;
                if message.message_type != MessageType::User || first.is_some() {
                    first = first.or(Some(message.created_at));
                }
                last = Some(message.created_at);
            }
        }
        let span = (last.unwrap() - first.unwrap()).as_seconds_f64();
        let rate = stored as f64 / span;
        let samples = samples.lock().await.clone();
        let max = samples.iter().copied().fold(0.0, f64::max);
        // Flat means: after the first buffers fill, the later quarters do not grow.
        let at = |fraction: f64| {
            let last = samples.len().saturating_sub(1);
            let index = ((last as f64) * fraction).round() as usize;
            samples.get(index).copied().unwrap_or_default()
        };
        out.push_str(&format!(
            "| {} | {stored} | {rate:.0} | {raw:.0} | {:.1} / {:.1} / {:.1} / {:.1} / {:.1} ({max:.1}) MiB | {} |\n",
            backend.name(),
            at(0.0),
            at(0.25),
            at(0.5),
            at(0.75),
            at(1.0),
            verdict(rate >= 20_000.0)
        ));
    }
    out
}

/// Milliseconds between `bench_sent_ns` in `event` and now, if it carries one.
fn latency_of(event: &Value) -> Option<Duration> {
    let sent = event
        .pointer("/payload/raw/bench_sent_ns")
        .or_else(|| event.pointer("/message/raw/bench_sent_ns"))?
        .as_u64()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(Duration::from_nanos(
        u64::try_from(now).ok()?.saturating_sub(sent),
    ))
}

/// One subscriber: every stamped event's latency until the turn's result.
async fn subscribe(base: String, token: String, session: String) -> Vec<Duration> {
    let mut socket = live_stream::open_raw(&base, &token, &session, 0).await;
    let mut latencies = Vec::new();
    while let Some(event) = live_stream::next_event(&mut socket).await {
        if let Some(latency) = latency_of(&event) {
            latencies.push(latency);
        }
        if live_stream::message_type(&event) == Some("result") {
            break;
        }
    }
    latencies
}

pub async fn latency(cli: &Cli) -> String {
    let script = Script::new(
        "bench-latency",
        vec![Reply::Flood {
            events: LATENCY_EVENTS,
            interval_us: 5_000,
        }],
    );
    let fake = fake_cli(cli, script);
    let server = Server::start(&fake, "d", None, &[]).await;
    let tenant = Tenant::new(&server, "latency@example.com", &Value::Null).await;
    let (status, session) = tenant
        .api
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": "latency"})),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let session = session["id"].as_str().unwrap().to_owned();
    let token = tenant.api.token.clone().unwrap();
    let mut subscribers = Vec::new();
    for _ in 0..SUBSCRIBERS {
        subscribers.push(tokio::spawn(subscribe(
            server.base.clone(),
            token.clone(),
            session.clone(),
        )));
    }
    // Every socket is open (the server subscribes before it answers the upgrade) once each
    // task has run; give them a moment, then start the turn.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, body) = tenant
        .api
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{session}/messages"),
            Some(json!({"content": "bench-latency: go"})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let mut all = Vec::new();
    let mut complete = 0;
    for subscriber in subscribers {
        let latencies = subscriber.await.unwrap();
        if latencies.len() == LATENCY_EVENTS {
            complete += 1;
        }
        all.extend(latencies);
    }
    let (p50, p99, max) = (
        percentile(&all, 50.0),
        percentile(&all, 99.0),
        percentile(&all, 100.0),
    );
    format!(
        "| {SUBSCRIBERS} WebSocket subscribers, {LATENCY_EVENTS} events 5 ms apart (SQLite) | value |\n|---|---|\n\
         | deliveries measured (subscribers that saw every event) | {} ({complete}) |\n\
         | p50, CLI stdout line → subscriber | {:.2} ms |\n\
         | p99 (target ≤ 5 ms) | {:.2} ms: {} |\n\
         | max | {:.2} ms |\n",
        all.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        verdict(p99 <= Duration::from_millis(5)),
        max.as_secs_f64() * 1e3,
    )
}
