//! An instance started through the entry point behaves as `overseer serve`: its agents run in
//! the sandbox (they cannot read the data directory), and its node id survives a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use overseer::ports::PageRequest;
use overseer::ports::agent::Secret;
use overseer::services::RequestContext;
use overseer::{ClaudeAgents, Overseer, SandboxMode};
use overseer_domain::{AgentOptions, SessionMode, SessionName, ToolPattern};
use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::script::{Reply, Script};

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "overseer-embedded-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(dir.join("home")).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_agent_is_sandboxed_and_the_node_id_persists() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    let dir = temp_dir();
    let data_dir = dir.join("data");
    let node_id_file = data_dir.join("node-id");
    api.script(Script::new(
        "Read the node id",
        vec![
            Reply::bash(&format!(
                "cat {} || echo unreadable",
                node_id_file.display()
            )),
            Reply::text("Done."),
        ],
    ));
    let claude = ClaudeAgents {
        binary: cli,
        env: vec![
            ("ANTHROPIC_BASE_URL".into(), Secret::new(api.base_url())),
            ("ANTHROPIC_API_KEY".into(), Secret::new("sk-ant-not-real")),
            (
                "HOME".into(),
                Secret::new(dir.join("home").display().to_string()),
            ),
            ("CLAUDE_CODE_MAX_RETRIES".into(), Secret::new("0")),
        ],
        sandbox: SandboxMode::On,
        ..ClaudeAgents::default()
    };
    let overseer = Overseer::builder()
        .data_dir(&data_dir)
        .claude(claude.clone())
        .start()
        .await
        .unwrap();
    let node = overseer.node_id().to_owned();
    assert!(
        overseer.services().agent_runtime.admit().is_ok(),
        "bwrap must work here (CI installs bubblewrap)"
    );
    let owner = overseer.service_account("sandbox-test").await.unwrap();
    let ctx = RequestContext::internal(owner.id);
    let sessions = &overseer.services().sessions;
    let options = AgentOptions {
        allowed_tools: vec![ToolPattern::new("Bash").unwrap()],
        ..AgentOptions::default()
    };
    let session = sessions
        .create(
            &ctx,
            SessionName::new("sandboxed").unwrap(),
            None,
            SessionMode::Interactive,
            options,
        )
        .await
        .unwrap();
    let outcome = sessions
        .run_turn(&ctx, session.id, "Read the node id")
        .await
        .unwrap();
    assert!(!outcome.is_error, "{outcome:?}");
    let calls = sessions
        .tool_calls(&ctx, session.id, PageRequest::first(10))
        .await
        .unwrap();
    let output = calls.items[0].tool_output.clone().unwrap_or_default();
    assert!(
        !output.contains(&node) && output.contains("unreadable"),
        "the agent read the data directory: {output}"
    );
    overseer.shutdown(Duration::from_secs(5)).await;

    // The same data directory: the same node.
    let again = Overseer::builder()
        .data_dir(&data_dir)
        .claude(claude)
        .start()
        .await
        .unwrap();
    assert_eq!(again.node_id(), node);
    again.shutdown(Duration::from_secs(5)).await;
    std::fs::remove_dir_all(dir).ok();
}
