//! Shared by the service tests that mock the agent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use overseer_ports::agent::{AgentEvent, AgentSession, MockAgentSession};

/// An agent that accepts any message and then yields `events`, in order, once.
pub fn scripted_agent(events: Vec<AgentEvent>) -> Arc<dyn AgentSession> {
    let queue = Arc::new(Mutex::new(VecDeque::from(events)));
    let mut agent = MockAgentSession::new();
    agent.expect_send_message().returning(|_| Ok(()));
    agent.expect_next_events().returning(move |max| {
        // One or two at a time, so both the single and the grouped paths are exercised.
        let mut queue = queue.lock().unwrap();
        let mut batch: Vec<AgentEvent> = Vec::new();
        while batch.len() < max.min(2) && !batch.last().is_some_and(AgentEvent::ends_turn) {
            match queue.pop_front() {
                Some(event) => batch.push(event),
                None => break,
            }
        }
        batch
    });
    agent.expect_process_id().returning(|| Some(4242));
    agent
        .expect_agent_session_id()
        .returning(|| Some("cli-1".into()));
    agent.expect_close().returning(|| Ok(()));
    Arc::new(agent)
}
