//! `overseer-bench`: Overseer's cost beside the bare CLI's, in one run, as ratios.
//!
//! Each scenario alternates the two sides (bare CLI, then the adapter, N times) against the
//! same fake Anthropic API and the same scripted turn, and reports medians and their ratio.
//! Run with `just bench` (release build); it prints a markdown section for docs/benchmarks.md.
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use overseer_domain::AgentOptions;
use overseer_ports::agent::{AgentCallbacks, AgentEvent, AgentRunner, AgentSpec, Secret};
use overseer_runner_claude::{ClaudeConfig, ClaudeRunner, LaunchExtras, build_args};
use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::script::{Reply, Script};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const PAIRS: usize = 20;
const MARKER: &str = "bench-turn";

struct World {
    binary: PathBuf,
    env: BTreeMap<String, Secret>,
    root: PathBuf,
    options: AgentOptions,
}

impl World {
    fn workdir(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

/// Times of one run: spawn → initialize reply, and spawn → end of the turn.
struct Sample {
    init: Duration,
    turn: Duration,
}

/// The bare CLI driven by hand: the same flags, environment and messages as the adapter sends.
async fn bare_cli(world: &World, dir: &Path) -> Sample {
    let started = Instant::now();
    let mut child = Command::new(&world.binary)
        .args(build_args(&world.options, &LaunchExtras::default()))
        .current_dir(dir)
        .envs(
            world
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_owned())),
        )
        .env("DISABLE_TELEMETRY", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn claude");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let send = |v: Value| format!("{v}\n");
    stdin
        .write_all(send(json!({"type":"control_request","request_id":"req_1","request":{"subtype":"initialize","hooks":null}})).as_bytes())
        .await
        .unwrap();
    let mut init = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        let frame: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if frame["type"] == "control_response" && init.is_none() {
            init = Some(started.elapsed());
            let message = json!({"type":"user","message":{"role":"user","content":format!("{MARKER}: write a file")},"parent_tool_use_id":null,"session_id":""});
            stdin.write_all(send(message).as_bytes()).await.unwrap();
        }
        if frame["type"] == "result" {
            break;
        }
    }
    let turn = started.elapsed();
    drop(stdin);
    let _ = child.wait().await;
    Sample {
        init: init.expect("an initialize reply"),
        turn,
    }
}

/// The same through the adapter: `start` (spawn + initialize), send, events until the result.
async fn adapter(runner: &ClaudeRunner, world: &World, dir: &Path) -> Sample {
    let spec = AgentSpec {
        working_directory: dir.to_path_buf(),
        options: world.options.clone(),
        env: BTreeMap::new(),
        resume: None,
    };
    let started = Instant::now();
    let session = runner
        .start(spec, AgentCallbacks::default())
        .await
        .expect("start");
    let init = started.elapsed();
    session
        .send_message(&format!("{MARKER}: write a file"))
        .await
        .unwrap();
    while let Some(event) = session.next_event().await {
        if matches!(event, AgentEvent::TurnEnded(_) | AgentEvent::Failed(_)) {
            break;
        }
    }
    let turn = started.elapsed();
    session.close().await.unwrap();
    Sample { init, turn }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let binary = overseer_testkit::cli::real_cli_path();
    assert!(
        binary.exists(),
        "{} is missing: run `npm ci` first",
        binary.display()
    );
    let api = FakeAnthropic::start().await;
    api.script(Script::new(
        MARKER,
        vec![Reply::bash("echo hi > out.txt"), Reply::text("Done.")],
    ));
    let root = std::env::temp_dir().join(format!("overseer-bench-{}", std::process::id()));
    std::fs::create_dir_all(root.join("home")).unwrap();
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
    let options = AgentOptions::from_json(json!({"allowed_tools": ["Bash"]})).unwrap();
    let world = World {
        binary: binary.clone(),
        env: env.clone(),
        root: root.clone(),
        options,
    };
    let runner = ClaudeRunner::new(ClaudeConfig {
        binary,
        env,
        ..ClaudeConfig::default()
    });

    // One untimed run each warms the file cache.
    bare_cli(&world, &world.workdir("warm-bare")).await;
    adapter(&runner, &world, &world.workdir("warm-adapter")).await;
    let (mut bare, mut ours) = (Vec::new(), Vec::new());
    for i in 0..PAIRS {
        bare.push(bare_cli(&world, &world.workdir(&format!("bare-{i}"))).await);
        ours.push(adapter(&runner, &world, &world.workdir(&format!("adapter-{i}"))).await);
    }
    let row = |name: &str, pick: fn(&Sample) -> Duration| {
        let b = median(bare.iter().map(pick).collect());
        let a = median(ours.iter().map(pick).collect());
        format!(
            "| {name} | {} | {} | {:.3} |",
            ms(b),
            ms(a),
            a.as_secs_f64() / b.as_secs_f64()
        )
    };
    println!(
        "| measure (median of {PAIRS} alternating pairs) | bare CLI | through the adapter | adapter ÷ bare |"
    );
    println!("|---|---|---|---|");
    println!("{}", row("spawn → initialize reply", |s| s.init));
    println!("{}", row("spawn → end of a one-Bash-tool turn", |s| s.turn));
    let _ = std::fs::remove_dir_all(&root);
}
