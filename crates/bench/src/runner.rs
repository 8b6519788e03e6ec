//! The agent runner alone beside the bare CLI: spawn → initialize, and a one-tool turn.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use overseer_ports::agent::{
    AgentCallbacks, AgentEvent, AgentRunner, AgentSpec, HookEvent, HookHandler, HookKind,
    HookVerdict, PermissionHandler, PermissionRequest, PermissionVerdict,
};
use overseer_runner_claude::{ClaudeConfig, ClaudeRunner};

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
    let (mut bare_samples, mut ours, mut hooked, mut pre_only) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..PAIRS {
        bare_samples.push(bare::run(cli, &cli.workdir(&format!("runner-bare-{i}")), &prompt).await);
        let dir = cli.workdir(&format!("runner-adapter-{i}"));
        ours.push(adapter(&runner, cli, &dir, AgentCallbacks::default()).await);
        let dir = cli.workdir(&format!("runner-hooked-{i}"));
        hooked.push(adapter(&runner, cli, &dir, no_op_callbacks(PRE_AND_POST)).await);
        let dir = cli.workdir(&format!("runner-pre-only-{i}"));
        let callbacks = no_op_callbacks(PRE_ONLY);
        pre_only.push(adapter(&runner, cli, &dir, callbacks).await);
    }
    let row = |name: &str, pick: fn(&Sample) -> Duration| {
        let b = median(&bare_samples.iter().map(pick).collect::<Vec<_>>());
        let cell = |samples: &[Sample]| {
            let m = median(&samples.iter().map(pick).collect::<Vec<_>>());
            format!("{} ({:.3})", ms(m), ratio(m, b))
        };
        format!(
            "| {name} | {} | {} | {} | {} |\n",
            ms(b),
            cell(&ours),
            cell(&hooked),
            cell(&pre_only)
        )
    };
    let mut out = format!(
        "| measure (median of {PAIRS} alternating runs) | bare CLI | adapter (÷ bare) | adapter with no-op Pre+PostToolUse hooks and permissions (÷ bare) | the same, PreToolUse only (÷ bare) |\n|---|---|---|---|---|\n"
    );
    out.push_str(&row("spawn → initialize reply", |s| s.init));
    out.push_str(&row("spawn → end of a one-Bash-tool turn", |s| s.turn));
    out
}
