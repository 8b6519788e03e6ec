//! (e) The service's own resident memory: idle, with 1,000 sessions at rest, and per live
//! agent (the service side only; each agent is a CLI process of its own).

use std::time::Duration;

use overseer_testkit::http_api::Method;
use serde_json::{Value, json};

use crate::MARKER;
use crate::bare::Cli;
use crate::server::{Server, Tenant};
use crate::stats::verdict;

const SESSIONS_AT_REST: usize = 1_000;
const LIVE_AGENTS: usize = 4;

async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

async fn create_session(tenant: &Tenant, name: &str) -> String {
    let (status, session) = tenant
        .api
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": name, "sdk_options": {"allowed_tools": ["Bash"]}})),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    session["id"].as_str().unwrap().to_owned()
}

/// Waits until `session` has stored its turn's result.
async fn turn_done(tenant: &Tenant, session: &str) {
    loop {
        let (_, page) = tenant
            .api
            .json(
                Method::GET,
                &format!("/api/v1/sessions/{session}/messages?limit=1000"),
                None,
            )
            .await;
        let done = page["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|m| m["message_type"] == json!("result")));
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn run(cli: &Cli) -> String {
    let live = LIVE_AGENTS.to_string();
    // The scenario opens 1,000 sessions for one user: above the default quota of open sessions.
    let flags = [
        "--max-live-agents",
        &live,
        "--max-open-sessions-per-user",
        "2000",
    ];
    let server = Server::start(cli, "memory", None, &flags).await;
    settle().await;
    let idle = server.rss_mib();
    let tenant = Tenant::new(&server, "memory@example.com", &Value::Null).await;
    for n in 0..SESSIONS_AT_REST {
        create_session(&tenant, &format!("rest-{n}")).await;
    }
    settle().await;
    let at_rest = server.rss_mib();
    let mut live_sessions = Vec::new();
    for n in 0..LIVE_AGENTS {
        let session = create_session(&tenant, &format!("live-{n}")).await;
        let (status, body) = tenant
            .api
            .json(
                Method::POST,
                &format!("/api/v1/sessions/{session}/messages"),
                Some(json!({"content": format!("{MARKER}: write a file")})),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        live_sessions.push(session);
    }
    for session in &live_sessions {
        turn_done(&tenant, session).await;
    }
    settle().await;
    let with_agents = server.rss_mib();
    let per_agent = (with_agents - at_rest) / LIVE_AGENTS as f64;
    format!(
        "| state | service RSS | target |\n|---|---|---|\n\
         | idle (SQLite, migrated, listening) | {idle:.1} MiB | ≤ 50 MB: {} |\n\
         | {SESSIONS_AT_REST} sessions at rest (+ their working directories) | {at_rest:.1} MiB (+{:.1}) | |\n\
         | + {LIVE_AGENTS} live agents after a turn each | {with_agents:.1} MiB | |\n\
         | per live agent, service side | {per_agent:.2} MiB | |\n",
        verdict(idle * 1.048_576 <= 50.0),
        at_rest - idle,
    )
}
