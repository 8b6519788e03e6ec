//! A status event carries the session's message count at the change: a client resuming from
//! its sequence (SSE `Last-Event-ID`) misses no message and sees none twice.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::sync::Arc;

use overseer_domain::{AgentOptions, SessionMode, SessionName};
use overseer_ports::agent::{AgentEvent, AssistantBlock, ContentBlock, MockAgentRunner};
use overseer_ports::{EventSubscriber, LiveEventBody, MockReportFiles, MockWorkspaces, Scope};
use overseer_services::{InProcessBroadcaster, RequestContext, Services, ServicesConfig};
use overseer_testkit::{MemoryStore, fixtures};
use serde_json::json;
use support::{init_event, scripted_agent, turn_ended};

fn assistant(text: &str) -> AgentEvent {
    AgentEvent::Assistant(AssistantBlock {
        message_id: "msg_1".into(),
        model: None,
        parent_tool_use_id: None,
        message_uuid: None,
        block: ContentBlock::Text(text.into()),
        api_error: None,
        raw: json!({"type": "assistant", "message": {"id": "msg_1"}}),
    })
}

#[tokio::test]
async fn the_status_after_a_turn_is_announced_at_the_last_stored_message() {
    let repos = MemoryStore::new().repositories();
    let mut runner = MockAgentRunner::new();
    runner.expect_start().returning(|_, _| {
        Ok(scripted_agent(vec![
            init_event(),
            assistant("one"),
            assistant("two"),
            turn_ended("done"),
        ]))
    });
    let mut workspaces = MockWorkspaces::new();
    workspaces
        .expect_create()
        .returning(|id| Ok(PathBuf::from(format!("/tmp/overseer-mock/{id}"))));
    let broadcaster = Arc::new(InProcessBroadcaster::default());
    let mut adapters = support::adapters(&repos, runner, workspaces, MockReportFiles::new());
    adapters.broadcaster = broadcaster.clone();
    let services = Services::build(adapters, ServicesConfig::default());
    let owner = fixtures::user("ops@example.com");
    repos.users.insert(&owner).await.unwrap();
    let ctx = RequestContext::internal(owner.id);
    let session = services
        .sessions
        .create(
            &ctx,
            SessionName::new("chat").unwrap(),
            None,
            SessionMode::Interactive,
            AgentOptions::default(),
        )
        .await
        .unwrap();
    let mut live = EventSubscriber::subscribe(broadcaster.as_ref(), session.id, 64).unwrap();

    services
        .sessions
        .run_turn(&ctx, session.id, "hello")
        .await
        .unwrap();

    let stored = repos.sessions.get(session.id, Scope::Admin).await.unwrap();
    // The user message, init, two assistant blocks and the result.
    assert_eq!(stored.usage.message_count, 5);
    let mut last_status = None;
    while let Ok(Ok(event)) =
        tokio::time::timeout(std::time::Duration::from_millis(200), live.next()).await
    {
        if let LiveEventBody::Status { to, .. } = &event.body {
            last_status = Some((to.to_string(), event.sequence));
        }
    }
    assert_eq!(
        last_status,
        Some(("active".to_owned(), stored.usage.message_count))
    );
}
