//! The bare CLI, driven by hand with the same flags, environment and messages as the adapter
//! sends: the baseline every scenario divides by.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use overseer_domain::AgentOptions;
use overseer_ports::agent::Secret;
use overseer_runner_claude::{LaunchExtras, build_args};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// What both sides share: the CLI, its environment (fake API, home) and scratch space.
#[derive(Clone)]
pub struct Cli {
    pub binary: PathBuf,
    pub env: BTreeMap<String, Secret>,
    pub root: PathBuf,
    pub options: AgentOptions,
}

impl Cli {
    /// A fresh working directory under the scratch root.
    pub fn workdir(&self, name: &str) -> PathBuf {
        let dir = self.root.join("work").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

/// Times of one bare run: spawn → initialize reply, and spawn → the turn's result line.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub init: Duration,
    pub turn: Duration,
}

/// One scripted turn of the bare CLI in `dir`, the prompt being `prompt`.
pub async fn run(cli: &Cli, dir: &Path, prompt: &str) -> Sample {
    run_turns(cli, dir, &[], None, &[prompt.to_owned()]).await.0
}

/// One process of the bare CLI in `dir` (with `env` on top of the shared environment,
/// resuming `resume` if given) playing `prompts` one turn after another. Returns spawn →
/// initialize reply and spawn → the last turn's result, and the CLI's session id.
pub async fn run_turns(
    cli: &Cli,
    dir: &Path,
    env: &[(&str, String)],
    resume: Option<&str>,
    prompts: &[String],
) -> (Sample, String) {
    let started = Instant::now();
    let extras = LaunchExtras {
        resume,
        ..LaunchExtras::default()
    };
    let mut child = Command::new(&cli.binary)
        .args(build_args(&cli.options, &extras))
        .current_dir(dir)
        .envs(
            cli.env
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_owned())),
        )
        .envs(env.iter().map(|(k, v)| (*k, v.clone())))
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
    let mut pending = prompts.iter();
    let mut session_id = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        let frame: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let next = if frame["type"] == "control_response" && init.is_none() {
            init = Some(started.elapsed());
            true
        } else if frame["type"] == "result" {
            session_id = frame["session_id"].as_str().unwrap_or_default().to_owned();
            true
        } else {
            false
        };
        if next {
            let Some(prompt) = pending.next() else { break };
            let message = json!({"type":"user","message":{"role":"user","content":prompt},"parent_tool_use_id":null,"session_id":""});
            stdin.write_all(send(message).as_bytes()).await.unwrap();
        }
    }
    let turn = started.elapsed();
    drop(stdin);
    let _ = child.wait().await;
    let sample = Sample {
        init: init.expect("an initialize reply"),
        turn,
    };
    (sample, session_id)
}
