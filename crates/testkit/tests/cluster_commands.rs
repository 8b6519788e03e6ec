//! Commands for a session reach the node that runs it. Two nodes (two wired `Services`, each
//! with its own working directories and agents on the fake CLI) share one in-memory store and
//! an in-memory cluster bus; the session lives on node A and every command enters at node B.
#![allow(clippy::unwrap_used)]

// This suite uses a part of the shared world.
#[allow(dead_code)]
#[path = "services/world.rs"]
mod world;

use std::time::{Duration, Instant};

use overseer_domain::{
    AgentOptions, MessageType, SessionId, SessionMode, SessionName, SessionStatus, ToolCallStatus,
};
use overseer_ports::{PageRequest, Scope};
use overseer_services::ServiceError;
use overseer_testkit::script::{Reply, Script};
use overseer_testkit::{MemoryCluster, MemoryStore};
use serde_json::json;
use world::World;

fn scripts() -> Vec<Script> {
    vec![
        Script::new(
            "cluster-message",
            vec![
                Reply::bash("echo from-b > from-b.txt"),
                Reply::text("written"),
            ],
        ),
        Script::new(
            "cluster-interrupt",
            vec![Reply::bash("sleep 30"), Reply::text("never reached")],
        ),
        Script::new(
            "cluster-approval",
            vec![
                Reply::bash("echo approved > approved.txt"),
                Reply::text("Done."),
            ],
        ),
    ]
}

/// Node A and node B on one store; the session is created on A.
async fn two_nodes(options: serde_json::Value) -> (World, World, MemoryCluster, SessionId) {
    let cluster = MemoryCluster::new();
    let repos = MemoryStore::new().repositories();
    let a = World::node(repos.clone(), scripts(), "node-a", &cluster, None).await;
    let b = World::node(repos, scripts(), "node-b", &cluster, Some(a.owner.clone())).await;
    let session = a
        .sessions
        .create(
            &a.ctx(),
            SessionName::new("shared").unwrap(),
            None,
            SessionMode::Interactive,
            AgentOptions::from_json(options).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(session.host_node.as_deref(), Some("node-a"));
    (a, b, cluster, session.id)
}

/// Waits for the session's first `result` message.
async fn wait_for_result(world: &World, session: SessionId) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let messages = world
            .repos
            .messages
            .list_after(session, 0, 100)
            .await
            .unwrap();
        if messages
            .iter()
            .any(|m| m.message_type == MessageType::Result)
        {
            return;
        }
        assert!(Instant::now() < deadline, "the turn never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn workdir(world: &World, session: SessionId) -> std::path::PathBuf {
    world
        .data_dir
        .join("agent-workdirs")
        .join("active")
        .join(session.to_string())
}

/// The session's agent lives on A, never on B.
fn assert_ran_on_a(a: &World, b: &World, session: SessionId) {
    assert!(a.services.pool.is_live(session), "no agent on A");
    assert!(!b.services.pool.is_live(session), "an agent on B");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_to_another_node_runs_on_the_sessions_node() {
    let (a, b, _cluster, session) = two_nodes(json!({"allowed_tools": ["Bash"]})).await;
    b.sessions
        .send_message(b.ctx(), session, "cluster-message: write it".to_owned())
        .await
        .unwrap();
    wait_for_result(&a, session).await;
    assert!(workdir(&a, session).join("from-b.txt").exists());
    assert!(
        !workdir(&b, session).exists(),
        "B has no copy of the session"
    );
    assert_ran_on_a(&a, &b, session);
    let messages = a.repos.messages.list_after(session, 0, 100).await.unwrap();
    let users: Vec<_> = messages
        .iter()
        .filter(|m| m.message_type == MessageType::User)
        .collect();
    assert_eq!(users.len(), 1, "the user message is stored once");
    assert_eq!(
        a.model_calls("cluster-message").len(),
        2,
        "one tool turn and one answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_sent_to_another_node_stops_the_turn_there() {
    let (a, b, _cluster, session) = two_nodes(json!({"allowed_tools": ["Bash"]})).await;
    b.sessions
        .send_message(b.ctx(), session, "cluster-interrupt: sleep".to_owned())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let calls = a
            .repos
            .tool_calls
            .list_for_session(session, PageRequest::default())
            .await
            .unwrap()
            .items;
        if calls.iter().any(|c| c.status == ToolCallStatus::Running) {
            break;
        }
        assert!(Instant::now() < deadline, "the tool never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let interrupted = Instant::now();
    b.sessions.interrupt(&b.ctx(), session).await.unwrap();
    wait_for_result(&a, session).await;
    assert!(
        interrupted.elapsed() < Duration::from_secs(20),
        "the turn ran on ({:?}) instead of stopping at the interrupt",
        interrupted.elapsed()
    );
    assert_ran_on_a(&a, &b, session);
    let stored = a.repos.sessions.get(session, Scope::Admin).await.unwrap();
    assert_eq!(stored.status(), SessionStatus::Active, "usable after it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_answered_on_another_node_releases_the_tool_there() {
    let (a, b, _cluster, session) = two_nodes(json!({"ask_tools": ["Bash"]})).await;
    b.sessions
        .send_message(b.ctx(), session, "cluster-approval: write it".to_owned())
        .await
        .unwrap();
    // The request reaches B's subscribers through the relay.
    let request = tokio::time::timeout(
        Duration::from_secs(30),
        b.approval_events.lock().await.recv(),
    )
    .await
    .unwrap()
    .unwrap();
    let approval = request.payload()["approval_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let answered = Instant::now();
    b.approvals.decide(&b.ctx(), approval, true).await.unwrap();
    wait_for_result(&a, session).await;
    // The approval timeout is 60 s: an answer that arrives well before it travelled.
    assert!(
        answered.elapsed() < Duration::from_secs(30),
        "the answer reached A only at expiry ({:?})",
        answered.elapsed()
    );
    assert_ran_on_a(&a, &b, session);
    assert!(workdir(&a, session).join("approved.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_for_a_session_whose_node_is_gone_fails_the_session() {
    let (_a, b, cluster, session) = two_nodes(json!({"allowed_tools": ["Bash"]})).await;
    cluster.take_down("node-a");
    let refused = b
        .sessions
        .send_message(b.ctx(), session, "cluster-message: too late".to_owned())
        .await;
    assert!(
        matches!(
            refused,
            Err(ServiceError::SessionNotActive {
                status: SessionStatus::Failed
            })
        ),
        "{refused:?}"
    );
    let stored = b.repos.sessions.get(session, Scope::Admin).await.unwrap();
    assert_eq!(stored.status(), SessionStatus::Failed);
    assert_eq!(stored.error_message.as_deref(), Some("node lost"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_in_flight_on_a_node_that_went_down_fails() {
    let (a, b, cluster, session) = two_nodes(json!({"allowed_tools": ["Bash"]})).await;
    a.sessions
        .send_message(a.ctx(), session, "cluster-interrupt: sleep".to_owned())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while a
        .repos
        .sessions
        .get(session, Scope::Admin)
        .await
        .unwrap()
        .status()
        != SessionStatus::Processing
    {
        assert!(Instant::now() < deadline, "the turn never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // While A is up, B leaves A's turn alone.
    b.sessions.settle_lost_nodes().await;
    let stored = b.repos.sessions.get(session, Scope::Admin).await.unwrap();
    assert_eq!(stored.status(), SessionStatus::Processing);

    cluster.take_down("node-a");
    b.sessions.settle_lost_nodes().await;
    let stored = b.repos.sessions.get(session, Scope::Admin).await.unwrap();
    assert_eq!(stored.status(), SessionStatus::Failed);
    assert_eq!(stored.error_message.as_deref(), Some("node lost"));
}
