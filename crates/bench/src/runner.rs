//! The agent runner alone beside the bare CLI: spawn → initialize, and a one-tool turn.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use overseer_ports::agent::{
    AgentCallbacks, AgentEvent, AgentRunner, AgentSpec, HookEvent, HookHandler, HookKind,
    HookVerdict, PermissionHandler, PermissionRequest, PermissionVerdict,
};
use overseer_runner_claude::{ClaudeConfig, ClaudeRunner, Containment};

use crate::MARKER;
use crate::bare::{self, Cli, Sample};
use crate::stats::{median, ms, ratio};

const PAIRS: usize = 20;

/// Answers every callback at once, registering the hooks in `kinds`: what the CLI's callback
/// protocol costs by itself.
struct AllowAll {
    kinds: &'static [HookKind],
}

const PRE_AND_POST: AllowAll = AllowAll {
    kinds: &[HookKind::PreToolUse, HookKind::PostToolUse],
};
const PRE_ONLY: AllowAll = AllowAll {
    kinds: &[HookKind::PreToolUse],
};
/// Every hook the service registers for a session.
const EVERY_HOOK: AllowAll = AllowAll {
    kinds: HookKind::ALL,
};

#[async_trait::async_trait]
impl PermissionHandler for AllowAll {
    async fn decide(&self, _request: PermissionRequest) -> PermissionVerdict {
        PermissionVerdict::Allow {
            updated_input: None,
        }
    }
}

#[async_trait::async_trait]
impl HookHandler for AllowAll {
    async fn on_hook(&self, _event: HookEvent) -> HookVerdict {
        HookVerdict::Continue
    }

    fn kinds(&self) -> &'static [HookKind] {
        self.kinds
    }
}

fn no_op_callbacks(handler: AllowAll) -> AgentCallbacks {
    let handler = Arc::new(handler);
    AgentCallbacks {
        permissions: Some(handler.clone()),
        hooks: Some(handler),
        mcp_servers: BTreeMap::new(),
    }
}

/// The same turn through the adapter: `start` (spawn + initialize), send, events until the end.
async fn adapter(
    runner: &ClaudeRunner,
    cli: &Cli,
    dir: &Path,
    callbacks: AgentCallbacks,
) -> Sample {
    let spec = AgentSpec {
        working_directory: dir.to_path_buf(),
        options: cli.options.clone(),
        env: BTreeMap::new(),
        resume: None,
        fork: false,
        resume_at: None,
    };
    let started = Instant::now();
    let session = runner.start(spec, callbacks).await.expect("start");
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

/// One way of starting the CLI through the adapter, beside the bare CLI.
struct Variant<'a> {
    name: &'static str,
    runner: &'a ClaudeRunner,
    callbacks: fn() -> AgentCallbacks,
    samples: Vec<Sample>,
}

pub async fn run(cli: &Cli) -> String {
    let runner = ClaudeRunner::new(ClaudeConfig {
        binary: cli.binary.clone(),
        env: cli.env.clone(),
        ..ClaudeConfig::default()
    });
    let prompt = format!("{MARKER}: write a file");
    bare::run(cli, &cli.workdir("runner-warm-bare"), &prompt).await;
    adapter(
        &runner,
        cli,
        &cli.workdir("runner-warm-adapter"),
        AgentCallbacks::default(),
    )
    .await;
    // The CLI as the service starts it (see `overseer::builder`): its own configuration
    // directory per agent (from the seed) and a PID namespace of its own (no sandbox, like
    // the bare side).
    let as_service = ClaudeRunner::new(ClaudeConfig {
        binary: cli.binary.clone(),
        env: cli.env.clone(),
        containment: Containment::detect(),
        session_config_root: Some(cli.root.join("runner-agent-config")),
        ..ClaudeConfig::default()
    });
    as_service
        .seed_session_configs("bench")
        .await
        .expect("seed the agents' configuration directories");
    let mut variants = [
        Variant {
            name: "adapter",
            runner: &runner,
            callbacks: AgentCallbacks::default,
            samples: Vec::new(),
        },
        Variant {
            name: "no-op PreToolUse hook and permissions",
            runner: &runner,
            callbacks: || no_op_callbacks(PRE_ONLY),
            samples: Vec::new(),
        },
        Variant {
            name: "no-op Pre+PostToolUse hooks and permissions",
            runner: &runner,
            callbacks: || no_op_callbacks(PRE_AND_POST),
            samples: Vec::new(),
        },
        Variant {
            name: "no-op hooks of every kind the service registers, and permissions",
            runner: &runner,
            callbacks: || no_op_callbacks(EVERY_HOOK),
            samples: Vec::new(),
        },
        Variant {
            name: "as the service starts it: the same, own config directory from the seed, PID namespace",
            runner: &as_service,
            callbacks: || no_op_callbacks(EVERY_HOOK),
            samples: Vec::new(),
        },
    ];
    let mut bare_samples = Vec::new();
    for i in 0..PAIRS {
        bare_samples.push(bare::run(cli, &cli.workdir(&format!("runner-bare-{i}")), &prompt).await);
        for (v, variant) in variants.iter_mut().enumerate() {
            let dir = cli.workdir(&format!("runner-{v}-{i}"));
            let sample = adapter(variant.runner, cli, &dir, (variant.callbacks)()).await;
            variant.samples.push(sample);
        }
    }
    let row = |name: &str, pick: fn(&Sample) -> Duration| {
        let b = median(&bare_samples.iter().map(pick).collect::<Vec<_>>());
        let cells: Vec<String> = variants
            .iter()
            .map(|variant| {
                let m = median(&variant.samples.iter().map(pick).collect::<Vec<_>>());
                format!("{} ({:.3})", ms(m), ratio(m, b))
            })
            .collect();
        format!("| {name} | {} | {} |\n", ms(b), cells.join(" | "))
    };
    let names: Vec<String> = variants
        .iter()
        .map(|v| format!("{} (÷ bare)", v.name))
        .collect();
    let mut out = format!(
        "| measure (median of {PAIRS} alternating runs) | bare CLI | {} |\n|---|---|{}\n",
        names.join(" | "),
        "---|".repeat(variants.len())
    );
    out.push_str(&row("spawn → initialize reply", |s| s.init));
    out.push_str(&row("spawn → end of a one-Bash-tool turn", |s| s.turn));
    out
}

/// One turn's timings, from the moment the work is asked for.
struct Demand {
    first_event: Duration,
    turn: Duration,
}

/// Demand → first event and → end of turn; with `ahead`, the CLI was started (spawned and
/// initialized) before the demand, as a warm pool would have it.
async fn on_demand(runner: &ClaudeRunner, cli: &Cli, dir: &Path, ahead: bool) -> (Demand, f64) {
    let spec = AgentSpec {
        working_directory: dir.to_path_buf(),
        options: cli.options.clone(),
        env: BTreeMap::new(),
        resume: None,
        fork: false,
        resume_at: None,
    };
    let mut idle_rss = 0.0;
    let (session, demanded) = if ahead {
        let session = runner
            .start(spec, no_op_callbacks(PRE_AND_POST))
            .await
            .expect("start");
        // A pooled CLI waits idle before it is taken.
        tokio::time::sleep(Duration::from_millis(500)).await;
        idle_rss = session.process_id().map_or(0.0, crate::server::rss_mib);
        (session, Instant::now())
    } else {
        let demanded = Instant::now();
        let session = runner
            .start(spec, no_op_callbacks(PRE_AND_POST))
            .await
            .expect("start");
        (session, demanded)
    };
    session
        .send_message(&format!("{MARKER}: write a file"))
        .await
        .unwrap();
    let mut first_event = None;
    while let Some(event) = session.next_event().await {
        first_event.get_or_insert_with(|| demanded.elapsed());
        if event.ends_turn() {
            break;
        }
    }
    let turn = demanded.elapsed();
    session.close().await.unwrap();
    let first_event = first_event.unwrap_or(turn);
    (Demand { first_event, turn }, idle_rss)
}

/// What a warm pool would buy: the same turn from a cold start and from a CLI started ahead.
pub async fn warm_pool(cli: &Cli) -> String {
    let runner = ClaudeRunner::new(ClaudeConfig {
        binary: cli.binary.clone(),
        env: cli.env.clone(),
        ..ClaudeConfig::default()
    });
    on_demand(&runner, cli, &cli.workdir("warm-warm-up"), false).await;
    let (mut cold, mut warm, mut idle) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..PAIRS {
        let dir = cli.workdir(&format!("warm-cold-{i}"));
        cold.push(on_demand(&runner, cli, &dir, false).await.0);
        let dir = cli.workdir(&format!("warm-ahead-{i}"));
        let (sample, rss) = on_demand(&runner, cli, &dir, true).await;
        warm.push(sample);
        idle.push(rss);
    }
    let pick = |samples: &[Demand], f: fn(&Demand) -> Duration| {
        median(&samples.iter().map(f).collect::<Vec<_>>())
    };
    let row = |name: &str, f: fn(&Demand) -> Duration| {
        let (c, w) = (pick(&cold, f), pick(&warm, f));
        format!(
            "| {name} | {} | {} | {} ({:.3}) |\n",
            ms(c),
            ms(w),
            ms(c.saturating_sub(w)),
            ratio(w, c)
        )
    };
    idle.sort_by(f64::total_cmp);
    let mut out = format!(
        "| measure (median of {PAIRS} alternating runs, with the service's hooks registered) | cold start | CLI started ahead (warm) | saved (warm ÷ cold) |\n|---|---|---|---|\n"
    );
    out.push_str(&row("demand → the agent's first event", |d| {
        d.first_event
    }));
    out.push_str(&row("demand → end of a one-Bash-tool turn", |d| d.turn));
    out.push_str(&format!(
        "| resident memory of one idle, initialized CLI | | {:.0} MiB | |\n",
        idle.get(idle.len() / 2).copied().unwrap_or_default()
    ));
    out
}
