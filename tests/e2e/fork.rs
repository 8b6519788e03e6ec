//! `POST /sessions/{id}/fork`: a new session that continues the conversation so far, in a copy
//! of the parent's working directory, audited; the parent goes on unchanged.

use std::time::Duration;

use overseer_e2e::{Db, spawn_with_agent};
use overseer_testkit::http_api::Api;
use overseer_testkit::script::{Reply, Script, content_text};
use reqwest::Method;
use serde_json::{Value, json};

const MARKER: &str = "case-fork-e2e";

/// The session's messages once it holds `results` turn results.
async fn after_turns(api: &Api, session: &str, results: usize) -> Vec<Value> {
    for _ in 0..600 {
        let (_, page) = api
            .json(
                Method::GET,
                &format!("/api/v1/sessions/{session}/messages?limit=1000"),
                None,
            )
            .await;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items
            .iter()
            .filter(|m| m["message_type"] == "result")
            .count()
            >= results
        {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("session {session} did not reach {results} results");
}

/// All the user text the model was sent in its last request of this conversation.
fn last_request_text(requests: &[Value]) -> String {
    requests
        .last()
        .and_then(|r| r["messages"].as_array())
        .map(|messages| {
            messages
                .iter()
                .map(|m| content_text(&m["content"]))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_continues_the_conversation_in_a_copy_and_the_parent_goes_on() {
    let Some(app) = spawn_with_agent(Db::Sqlite).await else {
        return;
    };
    let fake = app.api.as_ref().unwrap();
    fake.script(Script::new(
        MARKER,
        vec![
            Reply::bash("echo pelican > word.txt"),
            Reply::text("Noted."),
            Reply::bash("cat word.txt"),
            Reply::text("The word is in the file."),
        ],
    ));
    let base = app.url("");
    let alice = Api::sign_up(&base, "alice@example.com").await;
    let options = json!({"allowed_tools": ["Bash(echo:*)", "Bash(cat:*)"]});
    let (status, parent) = alice
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": "word", "sdk_options": options})),
        )
        .await;
    assert_eq!(status, 201, "{parent}");
    let parent = parent["id"].as_str().unwrap().to_owned();

    // Nothing to fork before the first turn.
    let (status, body) = alice
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{parent}/fork"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    alice
        .send_message(&parent, &format!("{MARKER}: remember the word pelican"))
        .await;
    after_turns(&alice, &parent, 1).await;

    let (status, fork) = alice
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{parent}/fork"),
            Some(json!({"name": "word, forked"})),
        )
        .await;
    assert_eq!(status, 201, "{fork}");
    assert_eq!(fork["forked_from"], json!(parent), "{fork}");
    assert_eq!(fork["name"], json!("word, forked"));
    let fork_id = fork["id"].as_str().unwrap().to_owned();

    // The fork's agent knows the conversation and works in a copy of the files.
    alice
        .send_message(&fork_id, "fork: what was the word?")
        .await;
    let messages = after_turns(&alice, &fork_id, 1).await;
    let read = messages
        .iter()
        .flat_map(|m| m["blocks"].as_array().cloned().unwrap_or_default())
        .find(|b| b["type"] == "tool_result")
        .unwrap_or_else(|| panic!("no tool result: {messages:?}"));
    assert_eq!(
        read["content"].as_str().map(str::trim),
        Some("pelican"),
        "{read}"
    );
    let sent = last_request_text(&fake.requests_for(MARKER));
    assert!(
        sent.contains("remember the word pelican") && sent.contains("fork: what was the word?"),
        "{sent}"
    );
    let (_, forked) = alice
        .json(Method::GET, &format!("/api/v1/sessions/{fork_id}"), None)
        .await;
    let (_, original) = alice
        .json(Method::GET, &format!("/api/v1/sessions/{parent}"), None)
        .await;
    assert_ne!(forked["agent_session_id"], original["agent_session_id"]);

    // The parent goes on without the fork's turn.
    alice.send_message(&parent, "parent: and now?").await;
    after_turns(&alice, &parent, 2).await;
    let sent = last_request_text(&fake.requests_for(MARKER));
    assert!(sent.contains("parent: and now?"), "{sent}");
    assert!(!sent.contains("fork: what was the word?"), "{sent}");

    // A fork at the first turn's answer leaves the second turn out.
    let parent_messages = after_turns(&alice, &parent, 2).await;
    let noted = parent_messages
        .iter()
        .find(|m| m["blocks"][0]["text"] == "Noted.")
        .unwrap_or_else(|| panic!("{parent_messages:?}"));
    let (status, body) = alice
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{parent}/fork"),
            Some(json!({"at_sequence": 1})),
        )
        .await;
    assert_eq!(status, 422, "a user message is no branch point: {body}");
    assert_eq!(body["errors"][0]["field"], json!("at_sequence"), "{body}");
    let (status, branch) = alice
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{parent}/fork"),
            Some(json!({"at_sequence": noted["sequence_number"]})),
        )
        .await;
    assert_eq!(status, 201, "{branch}");
    let branch = branch["id"].as_str().unwrap().to_owned();
    alice.send_message(&branch, "branch: and now?").await;
    after_turns(&alice, &branch, 1).await;
    let sent = last_request_text(&fake.requests_for(MARKER));
    assert!(
        sent.contains("remember the word pelican") && sent.contains("branch: and now?"),
        "{sent}"
    );
    assert!(!sent.contains("parent: and now?"), "{sent}");

    // Audited, and only the owner may fork.
    let (_, audit) = alice
        .json(
            Method::GET,
            "/api/v1/audit-logs?action=session.forked",
            None,
        )
        .await;
    assert_eq!(audit["total"], json!(2), "{audit}");
    let bob = Api::sign_up(&base, "bob@example.com").await;
    let (status, _) = bob
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{parent}/fork"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
}
