//! A task with an output schema: the run's structured result, checked against the schema, is
//! the execution's `structured_output` (and its result message's, and its report's); a result
//! that does not match fails the run with the reason; a schema that is not one is a 422.

use overseer_e2e::{Db, spawn_with_agent};
use overseer_testkit::http_api::Api;
use overseer_testkit::script::{Reply, Script};
use reqwest::Method;
use serde_json::{Value, json};

fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {"healthy": {"type": "boolean"}, "pods": {"type": "integer"}},
        "required": ["healthy", "pods"]
    })
}

fn task(marker: &str) -> Value {
    json!({
        "name": format!("Health as data {marker}"),
        "prompt_template": format!("{marker}: report the cluster's health"),
        "sdk_options": {"output_format": {"type": "json_schema", "schema": schema()}, "max_turns": 5},
        "generate_report": true,
        "report_format": "markdown"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_structured_result_is_checked_stored_and_shown() {
    let Some(app) = spawn_with_agent(Db::Sqlite).await else {
        return;
    };
    let fake = app.api.as_ref().unwrap();
    let answer = json!({"healthy": true, "pods": 2});
    fake.script(Script::new(
        "case-structured-ok",
        vec![
            Reply::tool("StructuredOutput", answer.clone()),
            Reply::text("Reported."),
        ],
    ));
    fake.script(Script::new(
        "case-structured-wrong",
        vec![
            Reply::tool("StructuredOutput", json!({"healthy": "yes"})),
            Reply::text("Reported anyway."),
        ],
    ));
    let alice = Api::sign_up(&app.url(""), "alice@example.com").await;

    let done = alice.run_task(task("case-structured-ok")).await;
    assert_eq!(done["status"], json!("completed"), "{done}");
    assert_eq!(done["structured_output"], answer, "{done}");
    let session = done["session_id"].as_str().unwrap();
    let (_, messages) = alice
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{session}/messages"),
            None,
        )
        .await;
    let result = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["message_type"] == "result")
        .unwrap()
        .clone();
    assert_eq!(result["structured_output"], answer, "{result}");
    let report = alice
        .call(
            Method::GET,
            &format!(
                "/api/v1/reports/{}/download",
                done["report_id"].as_str().unwrap()
            ),
            None,
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(report.contains("\"pods\": 2"), "{report}");

    let failed = alice.run_task(task("case-structured-wrong")).await;
    assert_eq!(failed["status"], json!("failed"), "{failed}");
    let reason = failed["error_message"].as_str().unwrap_or_default();
    assert!(reason.contains("structured output"), "{failed}");

    let mut bad = task("case-structured-bad-schema");
    bad["sdk_options"]["output_format"]["schema"] = json!({"type": "no-such-type"});
    let (status, body) = alice.json(Method::POST, "/api/v1/tasks", Some(bad)).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("output_format"), "{body}");
    let (_, tasks) = alice.json(Method::GET, "/api/v1/tasks", None).await;
    assert_eq!(tasks["total"], json!(2), "nothing written: {tasks}");
}
