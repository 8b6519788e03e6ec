//! A session whose options enable a built-in tool server gets it: stored in its merged MCP
//! configuration as an in-process server, and handed to the agent as one of its callbacks'
//! servers. A session that enables none gets none. The agent is a mock; the store in-memory.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use overseer_domain::{AgentOptions, McpServerConfig, McpServerName, SessionMode, SessionName};
use overseer_ports::agent::{MockAgentRunner, MockMcpToolServer, MockToolServerFactory};
use overseer_ports::{MockWorkspaces, Scope};
use overseer_services::{
    BuiltinToolServers, OptionRules, RequestContext, Services, ServicesConfig,
};
use overseer_testkit::{MemoryStore, fixtures};
use serde_json::json;
use support::{adapters, init_event, scripted_agent, turn_ended};

fn name(n: &str) -> McpServerName {
    McpServerName::new(n).unwrap()
}

#[tokio::test]
async fn enabled_built_in_servers_reach_the_agent_and_the_stored_options() {
    // The names of the in-process servers each started agent was given.
    let served: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let mut runner = MockAgentRunner::new();
    let record = served.clone();
    runner.expect_start().returning(move |_, callbacks| {
        record.lock().unwrap().push(
            callbacks
                .mcp_servers
                .keys()
                .map(|n| n.as_str().to_owned())
                .collect(),
        );
        Ok(scripted_agent(vec![init_event(), turn_ended("done")]))
    });
    let mut workspaces = MockWorkspaces::new();
    workspaces
        .expect_create()
        .returning(|id| Ok(PathBuf::from(format!("/tmp/overseer-mock/{id}"))));
    let mut factory = MockToolServerFactory::new();
    factory.expect_check().returning(|_| Ok(()));
    factory
        .expect_open()
        .times(1)
        .returning(|_| Arc::new(MockMcpToolServer::new()));
    let repos = MemoryStore::new().repositories();
    let adapters = adapters(
        &repos,
        runner,
        workspaces,
        overseer_ports::MockReportFiles::new(),
    );
    let services = Services::build(
        adapters,
        ServicesConfig {
            option_rules: OptionRules {
                tool_servers: BuiltinToolServers::default()
                    .with(name("database"), Arc::new(factory)),
                ..OptionRules::default()
            },
            ..ServicesConfig::default()
        },
    );
    let owner = fixtures::user("ops@example.com");
    repos.users.insert(&owner).await.unwrap();
    let ctx = RequestContext::internal(owner.id);

    for (label, options) in [
        ("with", json!({"builtin_servers": {"database": {}}})),
        ("without", json!({})),
    ] {
        let session = services
            .sessions
            .create(
                &ctx,
                SessionName::new(label).unwrap(),
                None,
                SessionMode::Interactive,
                AgentOptions::from_json(options).unwrap(),
            )
            .await
            .unwrap();
        services
            .sessions
            .run_turn(&ctx, session.id, "hello")
            .await
            .unwrap();
        let stored = repos.sessions.get(session.id, Scope::Admin).await.unwrap();
        assert_eq!(
            stored.options.mcp_servers.get(&name("database")),
            (label == "with").then_some(&McpServerConfig::Sdk),
            "{label}: {:?}",
            stored.options.mcp_servers
        );
    }
    assert_eq!(
        *served.lock().unwrap(),
        vec![vec!["database".to_owned()], Vec::<String>::new()]
    );
}
