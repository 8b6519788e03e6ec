//! Shared by the service tests that mock the agent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use overseer_ports::agent::{AgentEvent, AgentSession, MockAgentSession};

/// An agent that accepts any message and then yields `events`, in order, once.
pub fn scripted_agent(events: Vec<AgentEvent>) -> Arc<dyn AgentSession> {
    let queue = Arc::new(Mutex::new(VecDeque::from(events)));
    let mut agent = MockAgentSession::new();
    agent.expect_send_message().returning(|_| Ok(()));
    agent
        .expect_next_event()
        .returning(move || queue.lock().unwrap().pop_front());
    agent.expect_process_id().returning(|| Some(4242));
    agent
        .expect_agent_session_id()
        .returning(|| Some("cli-1".into()));
    agent.expect_close().returning(|| Ok(()));
    Arc::new(agent)
}
