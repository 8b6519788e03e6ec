//! A task with a sub-agent: the sub-agent's tool calls carry the tool use that started it, and
//! the agent's lifecycle hooks (prompt, sub-agent start and stop, stop) are in the audit log.

use overseer_e2e::{Db, spawn_with_agent};
use overseer_testkit::http_api::Api;
use overseer_testkit::script::Script;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subagents_tool_calls_are_attributed_and_its_hooks_audited() {
    let Some(app) = spawn_with_agent(Db::Sqlite).await else {
        return;
    };
    let fake = app.api.as_ref().unwrap();
    for script in Script::delegation("case-e2e-subagent-outer", "case-e2e-subagent-inner") {
        fake.script(script);
    }
    let alice = Api::sign_up(&app.url(""), "alice@example.com").await;
    let task = json!({
        "name": "Delegating check",
        "prompt_template": "case-e2e-subagent-outer: check the pods",
        "sdk_options": {
            "allowed_tools": ["Agent", "Bash(echo:*)"],
            "agents": {"checker": {"description": "Checks pods", "prompt": "You check pods.", "tools": ["Bash"]}}
        }
    });
    let done = alice.run_task(task).await;
    assert_eq!(done["status"], json!("completed"), "{done}");
    let session = done["session_id"].as_str().unwrap();

    let (_, calls) = alice
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{session}/tool-calls"),
            None,
        )
        .await;
    let items = calls["items"].as_array().unwrap();
    let agent = items
        .iter()
        .find(|c| c["tool_name"] == "Agent")
        .unwrap_or_else(|| panic!("{calls}"));
    let bash = items
        .iter()
        .find(|c| c["tool_name"] == "Bash")
        .unwrap_or_else(|| panic!("{calls}"));
    assert_eq!(agent["parent_tool_use_id"], Value::Null);
    assert_eq!(bash["parent_tool_use_id"], agent["tool_use_id"], "{calls}");
    assert_eq!(bash["tool_output"].as_str().map(str::trim), Some("pod-a"));

    for (action, detail, value) in [
        (
            "agent.prompt_submitted",
            "prompt",
            "case-e2e-subagent-outer: check the pods",
        ),
        ("agent.subagent_started", "agent_type", "checker"),
        ("agent.subagent_stopped", "agent_type", "checker"),
    ] {
        let (_, audit) = alice
            .json(
                Method::GET,
                &format!("/api/v1/audit-logs?action={action}"),
                None,
            )
            .await;
        assert_eq!(audit["total"], json!(1), "{action}: {audit}");
        assert_eq!(audit["items"][0]["resource_id"], json!(session));
        assert_eq!(
            audit["items"][0]["action_details"][detail],
            json!(value),
            "{audit}"
        );
    }
    let (_, stopped) = alice
        .json(Method::GET, "/api/v1/audit-logs?action=agent.stopped", None)
        .await;
    assert!(stopped["total"].as_u64() >= Some(1), "{stopped}");
}
