//! `sessions`: 1,000 open interactive sessions on one node with `--max-live-agents 8`.
//!
//! The server's `claude` is a dispatcher: sessions whose options set `BENCH_REAL=1` in their
//! environment run the real CLI, every other one the fake CLI (cheap, for the bulk). After the
//! bulk, 100 messages go to random real-CLI sessions, one at a time: message → stored result
//! for a session whose agent is live and for one that hibernated (resumed with `--resume`),
//! beside the bare CLI's `--resume` turn of the same conversations in the same run. A sampler
//! records the server's RSS and the live CLI count throughout. A last part measures how the
//! bare CLI's `--resume` turn grows with the conversation's length.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::processes::agent_groups_under;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::bare::{self, Cli};
use crate::server::{Server, rss_mib};
use crate::stats::{ms, percentile, verdict};

const SESSIONS: usize = 1_000;
const REAL_SESSIONS: usize = 20;
const MESSAGES: usize = 100;
const MAX_LIVE: usize = 8;
const CONCURRENCY: usize = 16;
const REAL_MARKER: &str = "bench-session";

/// A `claude` that runs the real CLI for `BENCH_REAL=1` and the fake one otherwise.
fn dispatcher(cli: &Cli) -> PathBuf {
    let fake = crate::flood::fake_cli(cli, overseer_testkit::script::Script::new("-", vec![]));
    let path = cli.root.join("dispatch-claude");
    let script = format!(
        "#!/bin/sh\nif [ \"$BENCH_REAL\" = 1 ]; then exec {real:?} \"$@\"; fi\nexec {fake:?} \"$@\"\n",
        real = cli.binary.display().to_string(),
        fake = fake.binary.display().to_string(),
    );
    std::fs::write(&path, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

async fn create(api: &Api, n: usize, real: bool) -> String {
    let options = if real {
        json!({"env": {"BENCH_REAL": "1"}})
    } else {
        json!({})
    };
    let (status, session) = api
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": format!("bench session {n}"), "sdk_options": options})),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    session["id"].as_str().unwrap().to_owned()
}

fn results(page: &Value) -> usize {
    page["items"].as_array().map_or(0, |items| {
        items
            .iter()
            .filter(|m| m["message_type"] == "result")
            .count()
    })
}

/// Sends `text` and waits until the session has stored `results_before + 1` results: the time
/// from the request to the stored result.
async fn turn(api: &Api, session: &str, text: &str, results_before: usize) -> Duration {
    let started = Instant::now();
    api.send_message(session, text).await;
    loop {
        let (_, page) = api
            .json(
                Method::GET,
                &format!("/api/v1/sessions/{session}/messages?limit=1000"),
                None,
            )
            .await;
        if results(&page) > results_before {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no answer in {session}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn view(api: &Api, session: &str) -> Value {
    api.json(Method::GET, &format!("/api/v1/sessions/{session}"), None)
        .await
        .1
}

/// A small deterministic generator: the same picks on every run.
fn picks(count: usize, range: usize) -> Vec<usize> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) as usize) % range
        })
        .collect()
}

/// Samples on a thread of its own until finished or dropped.
struct Sampler {
    stop: Arc<AtomicBool>,
    rss_kib: Arc<AtomicU64>,
    live: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Sampler {
    fn start(pid: u32, data_dir: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let rss_kib = Arc::new(AtomicU64::new(0));
        let live = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, rss_kib, live) = (stop.clone(), rss_kib.clone(), live.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    rss_kib.fetch_max((rss_mib(pid) * 1024.0) as u64, Ordering::SeqCst);
                    live.fetch_max(agent_groups_under(&data_dir).len() as u64, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(25));
                }
            })
        };
        Self {
            stop,
            rss_kib,
            live,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (f64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        (
            self.rss_kib.load(Ordering::SeqCst) as f64 / 1024.0,
            self.live.load(Ordering::SeqCst),
        )
    }
}

pub async fn run(cli: &Cli) -> String {
    let mut served = cli.clone();
    served.binary = dispatcher(cli);
    let max_live = MAX_LIVE.to_string();
    let server = Server::start(
        &served,
        "sessions",
        None,
        &[
            "--max-live-agents",
            &max_live,
            "--max-open-sessions-per-user",
            "2000",
        ],
    )
    .await;
    let data_dir = cli.root.join("server-sessions");
    let sampler = Sampler::start(server.pid(), data_dir.clone());
    let api = Arc::new(Api::sign_up(&server.base, "bench-sessions@example.com").await);

    // The bulk: 1,000 sessions created and answered once, 16 at a time; the last 20 on the
    // real CLI.
    let bulk_started = Instant::now();
    let gate = Arc::new(Semaphore::new(CONCURRENCY));
    let mut bulk = tokio::task::JoinSet::new();
    for n in 0..SESSIONS {
        let (api, gate) = (api.clone(), gate.clone());
        let real = n >= SESSIONS - REAL_SESSIONS;
        bulk.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let id = create(&api, n, real).await;
            let text = if real {
                format!("{REAL_MARKER} {n}: the code word is word-{n}")
            } else {
                format!("hello {n}")
            };
            turn(&api, &id, &text, 0).await;
            (n, id)
        });
    }
    let mut sessions = BTreeMap::new();
    while let Some(done) = bulk.join_next().await {
        let (n, id) = done.unwrap();
        sessions.insert(n, id);
    }
    let bulk_time = bulk_started.elapsed();
    let rss_after_bulk = server.rss_mib();
    let real: Vec<String> = sessions
        .range(SESSIONS - REAL_SESSIONS..)
        .map(|(_, id)| id.clone())
        .collect();
    let mut answered = vec![1_usize; real.len()];

    // 100 messages to random real-CLI sessions, one at a time.
    let (mut live, mut hibernated) = (Vec::new(), Vec::new());
    for (i, at) in picks(MESSAGES, real.len()).into_iter().enumerate() {
        let state = view(&api, &real[at]).await["agent_state"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let took = turn(&api, &real[at], &format!("message {i}"), answered[at]).await;
        answered[at] += 1;
        match state.as_str() {
            "live" => live.push(took),
            "hibernated" => hibernated.push(took),
            other => panic!("unexpected agent_state {other:?} before a message"),
        }
    }
    let (most_rss, most_live) = sampler.finish();

    // The bare CLI's --resume turn of the same conversations, in their own directories and
    // configuration (agent-config/<session id>), while the service holds no agent for them.
    let mut bare_resume = Vec::new();
    for id in real.iter().take(10) {
        let session = view(&api, id).await;
        if session["agent_state"] != "hibernated" {
            continue;
        }
        let agent_id = session["agent_session_id"].as_str().unwrap().to_owned();
        let dir = data_dir.join("agent-workdirs/active").join(id);
        let config = data_dir.join("agent-config").join(id);
        let env = [
            ("CLAUDE_CONFIG_DIR", config.display().to_string()),
            ("HOME", config.display().to_string()),
        ];
        let (sample, _) = bare::run_turns(
            cli,
            &dir,
            &env,
            Some(&agent_id),
            &["the bare side's message".to_owned()],
        )
        .await;
        bare_resume.push(sample.turn);
    }
    drop(server);

    let growth = resume_growth(cli).await;

    let p = |v: &[Duration], q: f64| {
        if v.is_empty() {
            "–".to_owned()
        } else {
            ms(percentile(v, q))
        }
    };
    let bare_p50 = percentile(&bare_resume, 50.0);
    let hibernated_p50 = percentile(&hibernated, 50.0);
    let mut out = format!(
        "{SESSIONS} sessions created through HTTP and answered once ({} on the fake CLI, {REAL_SESSIONS} on the real CLI), \
         {CONCURRENCY} at a time, with `--max-live-agents {MAX_LIVE}`: {:.1} s. Then {MESSAGES} messages, one at a time, to random real-CLI sessions.\n\n\
         | message → stored result | n | p50 | p99 |\n|---|---|---|---|\n\
         | live agent | {} | {} | {} |\n\
         | hibernated agent (resumed with `--resume`) | {} | {} | {} |\n\
         | bare CLI `--resume` turn of the same conversations (spawn → result) | {} | {} | {} |\n\n",
        SESSIONS - REAL_SESSIONS,
        bulk_time.as_secs_f64(),
        live.len(),
        p(&live, 50.0),
        p(&live, 99.0),
        hibernated.len(),
        p(&hibernated, 50.0),
        p(&hibernated, 99.0),
        bare_resume.len(),
        p(&bare_resume, 50.0),
        p(&bare_resume, 99.0),
    );
    let slack = hibernated_p50.saturating_sub(bare_p50);
    out.push_str(&format!(
        "| target | measured | verdict |\n|---|---|---|\n\
         | hibernated p50 ≤ bare `--resume` p50 + 0.5 s | +{} | {} |\n\
         | service RSS ≤ 100 MiB with {SESSIONS} sessions | {most_rss:.1} MiB max ({rss_after_bulk:.1} MiB after the bulk) | {} |\n\
         | live CLIs never above {MAX_LIVE} | {most_live} max | {} |\n\n",
        ms(slack),
        verdict(slack <= Duration::from_millis(500)),
        verdict(most_rss <= 100.0),
        verdict(most_live <= MAX_LIVE as u64),
    ));
    out.push_str(&growth);
    out
}

/// The bare CLI's `--resume` turn after conversations of growing length.
async fn resume_growth(cli: &Cli) -> String {
    let mut out = String::from(
        "Bare CLI `--resume` turn (spawn → result) after a conversation of N turns, and the transcript's size:\n\n\
         | turns before | transcript | resume turn |\n|---|---|---|\n",
    );
    for turns in [1_usize, 10, 50] {
        let dir = cli.workdir(&format!("resume-growth-{turns}"));
        let config = cli.root.join(format!("resume-growth-config-{turns}"));
        std::fs::create_dir_all(&config).unwrap();
        let env = [
            ("CLAUDE_CONFIG_DIR", config.display().to_string()),
            ("HOME", config.display().to_string()),
        ];
        let prompts: Vec<String> = (0..turns)
            .map(|i| format!("{REAL_MARKER} growth: note number {i}"))
            .collect();
        let (_, id) = bare::run_turns(cli, &dir, &env, None, &prompts).await;
        let transcript = transcript_bytes(&config);
        let mut times = Vec::new();
        for _ in 0..3 {
            let (sample, _) =
                bare::run_turns(cli, &dir, &env, Some(&id), &["one more".to_owned()]).await;
            times.push(sample.turn);
        }
        out.push_str(&format!(
            "| {turns} | {:.0} KiB | {} |\n",
            transcript as f64 / 1024.0,
            ms(percentile(&times, 50.0))
        ));
    }
    out
}

/// The size of the transcripts under a CLI configuration directory.
fn transcript_bytes(config: &Path) -> u64 {
    fn walk(dir: &Path) -> u64 {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path)
                    } else if path.extension().is_some_and(|x| x == "jsonl") {
                        e.metadata().map_or(0, |m| m.len())
                    } else {
                        0
                    }
                })
                .sum()
        })
    }
    walk(&config.join("projects"))
}
