//! The agent runner alone beside the bare CLI: spawn → initialize, and a one-tool turn.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use overseer_ports::agent::{AgentCallbacks, AgentEvent, AgentRunner, AgentSpec};
use overseer_runner_claude::{ClaudeConfig, ClaudeRunner};

use crate::MARKER;
use crate::bare::{self, Cli, Sample};
use crate::stats::{median, ms, ratio};

const PAIRS: usize = 20;

/// The same turn through the adapter: `start` (spawn + initialize), send, events until the end.
async fn adapter(runner: &ClaudeRunner, cli: &Cli, dir: &Path) -> Sample {
    let spec = AgentSpec {
        working_directory: dir.to_path_buf(),
        options: cli.options.clone(),
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

pub async fn run(cli: &Cli) -> String {
    let runner = ClaudeRunner::new(ClaudeConfig {
        binary: cli.binary.clone(),
        env: cli.env.clone(),
        ..ClaudeConfig::default()
    });
    let prompt = format!("{MARKER}: write a file");
    bare::run(cli, &cli.workdir("runner-warm-bare"), &prompt).await;
    adapter(&runner, cli, &cli.workdir("runner-warm-adapter")).await;
    let (mut bare_samples, mut ours) = (Vec::new(), Vec::new());
    for i in 0..PAIRS {
        bare_samples.push(bare::run(cli, &cli.workdir(&format!("runner-bare-{i}")), &prompt).await);
        ours.push(adapter(&runner, cli, &cli.workdir(&format!("runner-adapter-{i}"))).await);
    }
    let row = |name: &str, pick: fn(&Sample) -> Duration| {
        let b = median(&bare_samples.iter().map(pick).collect::<Vec<_>>());
        let a = median(&ours.iter().map(pick).collect::<Vec<_>>());
        format!("| {name} | {} | {} | {:.3} |\n", ms(b), ms(a), ratio(a, b))
    };
    let mut out = format!(
        "| measure (median of {PAIRS} alternating pairs) | bare CLI | through the adapter | adapter ÷ bare |\n|---|---|---|---|\n"
    );
    out.push_str(&row("spawn → initialize reply", |s| s.init));
    out.push_str(&row("spawn → end of a one-Bash-tool turn", |s| s.turn));
    out
}
