//! Shared by the service tests that mock the agent.
// Each test binary uses its own part of it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use overseer_ports::agent::{AgentEvent, AgentRunner, AgentSession, MockAgentSession};
use overseer_ports::{ReportFiles, Repositories, Workspaces};
use overseer_services::InProcessBroadcaster;
use overseer_services::{Adapters, Deps};

/// Adapters over `repos` with the system clock, random ids, an in-process broadcaster, no
/// telemetry and no cluster: what differs between the tests is the agent and the files.
pub fn adapters(
    repos: &Repositories,
    runner: impl AgentRunner + 'static,
    workspaces: impl Workspaces + 'static,
    report_files: impl ReportFiles + 'static,
) -> Adapters {
    Adapters {
        deps: Deps::system(repos.clone()),
        runner: Arc::new(runner),
        workspaces: Arc::new(workspaces),
        report_files: Arc::new(report_files),
        report_renderer: Arc::new(overseer_reports::DocumentRenderer),
        calendar: Arc::new(overseer_calendar::CronCalendar),
        broadcaster: Arc::new(InProcessBroadcaster::default()),
        telemetry: Arc::new(overseer_ports::NoTelemetry),
        cluster: None,
    }
}

/// An agent that accepts any message and then yields `events`, in order, once.
pub fn scripted_agent(events: Vec<AgentEvent>) -> Arc<dyn AgentSession> {
    scripted_process(events, 4242)
}

/// [`scripted_agent`] as the process `pid` (agents of one session that follow each other are
/// different processes).
pub fn scripted_process(events: Vec<AgentEvent>, pid: u32) -> Arc<dyn AgentSession> {
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
    agent.expect_process_id().returning(move || Some(pid));
    agent
        .expect_agent_session_id()
        .returning(|| Some("cli-1".into()));
    agent.expect_close().returning(|| Ok(()));
    Arc::new(agent)
}

/// The agent's first event.
pub fn init_event() -> AgentEvent {
    AgentEvent::Init(overseer_ports::agent::InitEvent {
        agent_session_id: "cli-1".into(),
        model: None,
        tools: vec![],
        mcp_servers: vec![],
        raw: serde_json::json!({"type": "system", "subtype": "init"}),
    })
}

/// A turn that ended well with `text`.
pub fn turn_ended(text: &str) -> AgentEvent {
    AgentEvent::TurnEnded(overseer_ports::agent::TurnResult {
        subtype: "success".into(),
        is_error: false,
        result: Some(text.into()),
        num_turns: 1,
        duration_ms: 5,
        total_cost_usd: 0.01,
        usage: overseer_ports::agent::TokenUsage::default(),
        permission_denials: vec![],
        structured_output: None,
        terminal_reason: None,
        api_error_status: None,
        agent_session_id: Some("cli-1".into()),
        model: None,
        raw: serde_json::json!({"type": "result"}),
    })
}
