//! Interactive sessions beyond the agent bound, through the session service with the fake
//! CLI: a start waits visibly while every agent is mid-turn, gives up at the start timeout
//! without touching the session, and an idle agent's slot is taken at once.
#![allow(clippy::unwrap_used)]

// The world serves many test binaries; this one uses a part of it.
#[allow(dead_code)]
#[path = "services/world.rs"]
mod world;

use std::time::Duration;

use overseer_domain::{AgentOptions, SessionMode, SessionName, SessionStatus};
use overseer_ports::Scope;
use overseer_services::{AgentState, PoolConfig, ServiceError};
use overseer_testkit::MemoryStore;
use overseer_testkit::script::{Reply, Script};
use world::World;

async fn world() -> World {
    World::with_pool(
        MemoryStore::new().repositories(),
        vec![
            Script::new("busy", vec![Reply::bash("sleep 2"), Reply::text("Slept.")]),
            Script::new("quick", vec![Reply::text("Quick.")]),
        ],
        PoolConfig {
            max_live: 1,
            idle_timeout: Duration::from_secs(600),
            start_timeout: Duration::from_millis(300),
        },
    )
    .await
}

async fn session(world: &World, name: &str) -> overseer_domain::SessionId {
    world
        .sessions
        .create(
            &world.ctx(),
            SessionName::new(name).unwrap(),
            None,
            SessionMode::Interactive,
            AgentOptions::default(),
        )
        .await
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_past_the_start_timeout_fails_the_turn_and_leaves_the_session_as_it_was() {
    let world = world().await;
    let busy = session(&world, "busy").await;
    let waiting = session(&world, "waiting").await;

    let turn = {
        let (sessions, ctx) = (world.sessions.clone(), world.ctx());
        tokio::spawn(async move { sessions.run_turn(&ctx, busy, "busy: sleep").await })
    };
    // Wait until the busy session's agent is mid-turn.
    for _ in 0..500 {
        let status = world.repos.sessions.get(busy, Scope::Admin).await.unwrap();
        if status.status() == SessionStatus::Processing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let err = world
        .sessions
        .run_turn(&world.ctx(), waiting, "quick: hello")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ServiceError::AgentCapacity { seconds: 1 }),
        "{err}"
    );
    let after = world
        .repos
        .sessions
        .get(waiting, Scope::Admin)
        .await
        .unwrap();
    assert_eq!(after.status(), SessionStatus::Created, "nothing changed");
    assert_eq!(after.usage.message_count, 0, "no message stored");
    assert_eq!(world.sessions.agent_state(&after), None);
    let events = world.broadcaster.events.lock().unwrap().clone();
    let mine: Vec<_> = events.iter().filter(|e| e.session_id == waiting).collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert_eq!(mine[0].kind().as_str(), "agent");
    assert_eq!(mine[0].payload()["agent_state"], "waiting");
    assert_eq!(mine[0].payload()["queue_position"], 1);
    assert_eq!(mine[1].kind().as_str(), "turn_failed");
    assert_eq!(mine[1].payload()["limit"], "agent_start_timeout_seconds");

    // Once the busy turn ends, its idle agent gives its slot up at once.
    assert!(!turn.await.unwrap().unwrap().is_error);
    let outcome = world
        .sessions
        .run_turn(&world.ctx(), waiting, "quick: hello")
        .await
        .unwrap();
    assert_eq!(outcome.text.as_deref(), Some("Quick."));
    let busy_now = world.repos.sessions.get(busy, Scope::Admin).await.unwrap();
    assert_eq!(
        world.sessions.agent_state(&busy_now),
        Some(AgentState::Hibernated)
    );
    let waiting_now = world
        .repos
        .sessions
        .get(waiting, Scope::Admin)
        .await
        .unwrap();
    assert_eq!(
        world.sessions.agent_state(&waiting_now),
        Some(AgentState::Live)
    );
}
