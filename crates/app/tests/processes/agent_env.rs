//! An agent's tools do not see the service's environment: a scripted agent runs `env`, and its
//! output holds what the CLI runs with (PATH, HOME) but none of the service's settings and
//! secrets — only what an operator passes through by name.

use std::time::Duration;

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::script::{Reply, Script};
use serde_json::json;

use crate::node::{Node, create_task, execute, finished, temp_dir};

const JWT_SECRET: &str = "CANARY-env-jwt-secret-4b7e9d0c1a2f3e5d";
const SERVICE_SECRET: &str = "CANARY-service-only-6c2d";
const PASSED_THROUGH: &str = "CANARY-passed-through-9a1b";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_sees_no_service_setting_or_secret_in_its_environment() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    api.script(Script::new(
        "env-probe",
        vec![Reply::bash("env"), Reply::text("Listed.")],
    ));
    let data_dir = temp_dir("agent-env");
    let node = Node::start_with_env(
        &data_dir,
        None,
        &cli,
        &api,
        &["--agent-env-passthrough", "OPERATOR_CHOSEN"],
        &[
            ("OVERSEER_JWT_SECRET", JWT_SECRET),
            ("SERVICE_ONLY_SECRET", SERVICE_SECRET),
            ("OPERATOR_CHOSEN", PASSED_THROUGH),
        ],
    )
    .await;
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let task = create_task(
        &alice,
        json!({
            "name": "Environment probe",
            "prompt_template": "env-probe",
            "sdk_options": {"allowed_tools": ["Bash(env)"]},
        }),
    )
    .await;
    let execution = execute(&alice, &task, json!({})).await;
    let run = finished(&alice, &execution, Duration::from_secs(90)).await;
    assert_eq!(run["status"], json!("completed"), "{run}");
    let (_, calls) = alice
        .json(
            Method::GET,
            &format!(
                "/api/v1/sessions/{}/tool-calls",
                run["session_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let output = calls["items"][0]["tool_output"]
        .as_str()
        .unwrap_or_default();
    assert!(output.contains("PATH="), "the tool ran `env`: {calls}");
    assert!(
        output.contains(PASSED_THROUGH),
        "passed through by name: {output}"
    );
    // RUST_LOG is one of the server's own settings (the test node sets it).
    for withheld in [
        JWT_SECRET,
        SERVICE_SECRET,
        "OVERSEER_JWT_SECRET",
        "SERVICE_ONLY_SECRET",
        "RUST_LOG",
    ] {
        assert!(
            !output.contains(withheld),
            "{withheld} reached the agent: {output}"
        );
    }
}
