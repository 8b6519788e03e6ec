//! The agent runner contract suite against the Claude CLI adapter, with (a) the fake `claude`
//! binary and (b) the real CLI from `node_modules` talking to the fake Anthropic API.
// Shared case bodies outside #[test] fns panic on failure like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use overseer_domain::{AgentOptions, SessionId};
use overseer_ports::agent::{AgentCallbacks, AgentEvent, AgentRunner, Secret};
use overseer_runner_claude::{ClaudeConfig, ClaudeRunner};
use overseer_services::{AgentPool, PoolConfig};
use overseer_testkit::agent_contract::{
    AgentHarness, RunnerFactory, collect_turn, processes_in_group,
};
use overseer_testkit::script::{Reply, Script};

fn factory() -> RunnerFactory {
    Box::new(
        |binary: &Path, env: BTreeMap<String, Secret>| -> Arc<dyn AgentRunner> {
            Arc::new(ClaudeRunner::new(ClaudeConfig {
                binary: binary.to_path_buf(),
                env,
                startup_timeout: Duration::from_secs(30),
                control_timeout: Duration::from_secs(10),
                close_grace: Duration::from_secs(3),
                ..ClaudeConfig::default()
            }))
        },
    )
}

/// Case 8: with the bound at 2 and both agents idle, a third start closes the least recently
/// used one (its process goes away) instead of waiting; that session resumes on its next
/// message, with the earlier conversation.
async fn pool_bounds_live_agents_and_resumes_evicted_ones(h: &AgentHarness) {
    h.script(Script::new(
        "case-pool",
        vec![Reply::text("First."), Reply::text("Second.")],
    ));
    let pool = AgentPool::new(
        h.runner.clone(),
        PoolConfig {
            max_live: 2,
            idle_timeout: Duration::from_secs(600),
            start_timeout: Duration::from_secs(30),
        },
    );
    let ids: Vec<SessionId> = (0..3)
        .map(|_| SessionId::from_uuid(overseer_testkit::fixtures::id()))
        .collect();
    pool.start(
        ids[0],
        h.spec("pool-a", AgentOptions::default()),
        AgentCallbacks::default(),
    )
    .await
    .unwrap();
    // A turn on A, so A holds a conversation to resume.
    let agent = pool
        .send_message(ids[0], "case-pool: the password is swordfish")
        .await
        .unwrap();
    let first_pid = agent.process_id().unwrap();
    collect_turn(agent.as_ref()).await;
    pool.turn_finished(ids[0]).await;
    pool.start(
        ids[1],
        h.spec("pool-b", AgentOptions::default()),
        AgentCallbacks::default(),
    )
    .await
    .unwrap();

    // Both idle, A used least recently: C's start closes A and does not wait.
    tokio::time::timeout(
        Duration::from_secs(30),
        pool.start(
            ids[2],
            h.spec("pool-c", AgentOptions::default()),
            AgentCallbacks::default(),
        ),
    )
    .await
    .expect("a start must not wait while an agent is idle")
    .unwrap();
    assert_eq!(pool.live_count(), 2);
    assert!(!pool.is_live(ids[0]) && pool.is_live(ids[1]) && pool.is_live(ids[2]));
    assert!(
        processes_in_group(first_pid).is_empty(),
        "the evicted agent's process ended before the new one started"
    );

    // The next message restarts A with resume (closing B, now the least recently used): the
    // model sees the earlier conversation.
    let agent = pool
        .send_message(ids[0], "what is the password?")
        .await
        .unwrap();
    let events = collect_turn(agent.as_ref()).await;
    assert!(
        matches!(events.last(), Some(AgentEvent::TurnEnded(r)) if r.result.as_deref() == Some("Second.")),
        "{events:#?}"
    );
    assert!(!pool.is_live(ids[1]));
    let last_call = serde_json::Value::Array(h.model_calls("case-pool").pop().unwrap()).to_string();
    assert!(
        last_call.contains("swordfish") && last_call.contains("what is the password?"),
        "{last_call}"
    );
    pool.close_all().await;
}

mod fake_cli {
    use super::*;

    async fn harness() -> Option<AgentHarness> {
        Some(AgentHarness::fake_cli(
            Path::new(env!("CARGO_BIN_EXE_fake-claude")),
            &factory(),
        ))
    }

    overseer_testkit::agent_contract_suite!(harness);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pool_bounds_live_agents_and_resumes_evicted_ones() {
        super::pool_bounds_live_agents_and_resumes_evicted_ones(&harness().await.unwrap()).await;
    }

    // Faults only the fake CLI can inject.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn garbage_output_fails_the_session() {
        overseer_testkit::agent_contract::garbage_output_fails_the_session(
            &harness().await.unwrap(),
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn oversized_line_fails_the_session() {
        overseer_testkit::agent_contract::oversized_line_fails_the_session(
            &harness().await.unwrap(),
        )
        .await;
    }

    /// The service is SIGKILLed (no destructor runs) while its agent is hung mid-turn: the agent
    /// dies with it, by the parent-death signal alone. The "service" is this test binary re-run
    /// as a child that starts an agent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn agent_dies_with_a_killed_service() {
        use tokio::io::AsyncBufReadExt;

        if std::env::var_os("OVERSEER_PDEATHSIG_CHILD").is_some() {
            // A hung turn: an agent that would outlive its stdin's EOF.
            let harness = harness().await.unwrap();
            harness.script(Script::new("case-orphan", vec![Reply::Hang]));
            let session = harness
                .runner
                .start(
                    harness.spec("orphan", AgentOptions::default()),
                    AgentCallbacks::default(),
                )
                .await
                .unwrap();
            session.send_message("case-orphan: hang").await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            println!("AGENT_PID={}", session.process_id().unwrap());
            std::future::pending::<()>().await;
        }
        let mut service = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "fake_cli::agent_dies_with_a_killed_service",
                "--nocapture",
            ])
            .env("OVERSEER_PDEATHSIG_CHILD", "1")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(service.stdout.take().unwrap()).lines();
        let agent_pid: u32 = loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .unwrap()
                .unwrap()
                .expect("the child prints the agent's pid");
            if let Some(pid) = line.strip_prefix("AGENT_PID=") {
                break pid.parse().unwrap();
            }
        };
        assert!(!processes_in_group(agent_pid).is_empty(), "the agent runs");
        service.start_kill().unwrap();
        service.wait().await.unwrap();
        AgentHarness::eventually(Duration::from_secs(5), "the orphaned agent to die", || {
            processes_in_group(agent_pid).is_empty()
        })
        .await;
    }

    /// Events already waiting are taken together (the service stores them in one write), but
    /// never past the end of their turn: the next turn's events stay for the next read.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_events_come_together_up_to_the_end_of_their_turn() {
        let harness = harness().await.unwrap();
        let flood = Reply::Flood {
            events: 600,
            interval_us: 0,
        };
        harness.script(Script::new(
            "case-flood",
            vec![flood, Reply::text("second turn")],
        ));
        let session = harness
            .runner
            .start(
                harness.spec("flood", AgentOptions::default()),
                AgentCallbacks::default(),
            )
            .await
            .unwrap();
        session.send_message("case-flood: one").await.unwrap();
        session.send_message("case-flood: two").await.unwrap();
        // Both turns fit in the runner's buffer; give the CLI time to print them.
        tokio::time::sleep(Duration::from_secs(1)).await;

        let read_turn = || async {
            let mut batches = Vec::new();
            loop {
                let batch = tokio::time::timeout(Duration::from_secs(10), session.next_events(256))
                    .await
                    .unwrap();
                assert!(!batch.is_empty() && batch.len() <= 256, "{}", batch.len());
                let ended = batch.last().is_some_and(AgentEvent::ends_turn);
                batches.push(batch);
                if ended {
                    return batches;
                }
            }
        };
        let first = read_turn().await;
        assert!(first[0].len() > 1, "what waits comes together");
        let events: Vec<AgentEvent> = first.into_iter().flatten().collect();
        assert_eq!(events.iter().filter(|e| e.ends_turn()).count(), 1);
        assert!(events.len() > 600, "{}", events.len());
        let second: Vec<AgentEvent> = read_turn().await.into_iter().flatten().collect();
        let Some(AgentEvent::TurnEnded(result)) = second.last() else {
            panic!("{second:?}");
        };
        assert_eq!(result.result.as_deref(), Some("second turn"));
        session.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hung_agent_is_killed_on_close() {
        overseer_testkit::agent_contract::hung_agent_is_killed_on_close(&harness().await.unwrap())
            .await;
    }
}

mod real_cli {
    use super::*;

    async fn harness() -> Option<AgentHarness> {
        Some(AgentHarness::real_cli(&overseer_testkit::cli::real_cli()?, &factory()).await)
    }

    overseer_testkit::agent_contract_suite!(harness);
    overseer_testkit::agent_contract_suite!(@features harness);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pool_bounds_live_agents_and_resumes_evicted_ones() {
        if let Some(harness) = harness().await {
            super::pool_bounds_live_agents_and_resumes_evicted_ones(&harness).await;
        }
    }

    /// With a configuration directory per agent, a new agent's starts from the seed the CLI
    /// made on an empty start (its state file), and a seed made after sessions ran holds
    /// nothing of them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn new_agent_configurations_start_from_a_seed_that_holds_no_session() {
        let Some(binary) = overseer_testkit::cli::real_cli() else {
            return;
        };
        let root = std::env::temp_dir().join(format!(
            "overseer-seed-{}",
            overseer_testkit::fixtures::id()
        ));
        let configs = root.join("agent-config");
        let made: Arc<std::sync::Mutex<Option<Arc<ClaudeRunner>>>> = Arc::default();
        let keep = made.clone();
        let root_of_configs = configs.clone();
        let factory: RunnerFactory = Box::new(
            move |binary: &Path, env: BTreeMap<String, Secret>| -> Arc<dyn AgentRunner> {
                let runner = Arc::new(ClaudeRunner::new(ClaudeConfig {
                    binary: binary.to_path_buf(),
                    env,
                    session_config_root: Some(root_of_configs.clone()),
                    startup_timeout: Duration::from_secs(30),
                    ..ClaudeConfig::default()
                }));
                *keep.lock().unwrap() = Some(runner.clone());
                runner
            },
        );
        let h = AgentHarness::real_cli(&binary, &factory).await;
        let runner = made.lock().unwrap().clone().unwrap();
        let seed_file = configs.join(".seed").join(".claude.json");
        let state = |file: &Path| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
        };

        runner.seed_session_configs("first").await.unwrap();
        let seed = state(&seed_file);
        assert!(seed["userID"].is_string(), "{seed}");
        // The same CLI version keeps its seed: no CLI starts at the next start-up.
        let made_at = std::fs::metadata(&seed_file).unwrap().modified().unwrap();
        runner.seed_session_configs("first").await.unwrap();
        let kept_at = std::fs::metadata(&seed_file).unwrap().modified().unwrap();
        assert_eq!(made_at, kept_at, "the seed was made again");

        h.script(Script::new("case-seed", vec![Reply::text("Seeded.")]));
        let spec = h.spec("seeded", AgentOptions::default());
        let workdir = spec.working_directory.clone();
        let agent = h
            .runner
            .start(spec, AgentCallbacks::default())
            .await
            .unwrap();
        agent.send_message("case-seed: hello").await.unwrap();
        let events = collect_turn(agent.as_ref()).await;
        assert!(
            matches!(events.last(), Some(AgentEvent::TurnEnded(_))),
            "{events:?}"
        );
        agent.close().await.unwrap();
        let own = state(
            &configs
                .join(workdir.file_name().unwrap())
                .join(".claude.json"),
        );
        assert_eq!(own["userID"], seed["userID"], "started from the seed");

        // A seed made now (another CLI version), after a session ran, names none of its
        // directories.
        runner.seed_session_configs("second").await.unwrap();
        let text = std::fs::read_to_string(&seed_file).unwrap();
        let name = workdir.file_name().unwrap().to_str().unwrap();
        assert!(!text.contains(name), "{text}");
        std::fs::remove_dir_all(&root).ok();
    }
}
