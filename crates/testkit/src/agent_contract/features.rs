//! Cases for the CLI's agent features (structured output, sub-agents, effort, fork). They run on
//! the real CLI only: the fake CLI models the protocol, not these features of the model loop.

use overseer_domain::AgentOptions;
use overseer_ports::agent::{AgentCallbacks, AgentEvent, ContentBlock, HookKind};
use serde_json::{Value, json};

use super::cases::{collect_turn, turn_result};
use super::harness::AgentHarness;
use super::recorders::{CallLog, RecordingHooks, RecordingPermissions};
use crate::script::{Reply, Script};

fn options(value: Value) -> AgentOptions {
    AgentOptions::from_json(value).expect("valid options")
}

fn allow_all() -> AgentCallbacks {
    AgentCallbacks {
        permissions: Some(RecordingPermissions::allow_all(CallLog::default())),
        ..AgentCallbacks::default()
    }
}

/// With an output schema the model answers through the CLI's `StructuredOutput` tool; the
/// turn's result carries that value.
pub async fn output_format_gives_the_structured_result(h: &AgentHarness) {
    let answer = json!({"healthy": true, "pods": 2});
    h.script(Script::new(
        "case-structured",
        vec![
            Reply::tool("StructuredOutput", answer.clone()),
            Reply::text("Reported."),
        ],
    ));
    let schema = json!({
        "type": "object",
        "properties": {"healthy": {"type": "boolean"}, "pods": {"type": "integer"}},
        "required": ["healthy", "pods"]
    });
    let spec = h.spec(
        "structured",
        options(json!({"output_format": {"type": "json_schema", "schema": schema}})),
    );
    let session = h.runner.start(spec, allow_all()).await.expect("start");
    session
        .send_message("case-structured: how is the cluster?")
        .await
        .expect("send");
    let events = collect_turn(session.as_ref()).await;
    let result = turn_result(&events);
    assert!(!result.is_error, "{events:#?}");
    assert_eq!(
        result.structured_output.as_ref(),
        Some(&answer),
        "{events:#?}"
    );
    // The model was offered the tool with the schema.
    let request = h.model_requests("case-structured").remove(0);
    let tool = request["tools"]
        .as_array()
        .and_then(|tools| tools.iter().find(|t| t["name"] == "StructuredOutput"))
        .unwrap_or_else(|| panic!("no StructuredOutput tool offered: {request}"));
    assert_eq!(tool["input_schema"]["required"], json!(["healthy", "pods"]));
    session.close().await.expect("close");
}

/// A sub-agent defined in the options runs when the model hands it work; its tool use and
/// result carry the id of the tool use that started it.
pub async fn subagent_tool_use_is_attributed_to_its_parent(h: &AgentHarness) {
    for script in Script::delegation("case-subagent-outer", "case-subagent-inner") {
        h.script(script);
    }
    let spec = h.spec(
        "subagent",
        options(json!({"agents": {"checker": {
            "description": "Checks pods", "prompt": "You check pods.", "tools": ["Bash"]
        }}})),
    );
    let log = CallLog::default();
    let hooks = RecordingHooks::all(log.clone());
    let callbacks = AgentCallbacks {
        hooks: Some(hooks.clone()),
        ..allow_all()
    };
    let session = h.runner.start(spec, callbacks).await.expect("start");
    session
        .send_message("case-subagent-outer: check the pods")
        .await
        .expect("send");
    let events = collect_turn(session.as_ref()).await;
    assert!(!turn_result(&events).is_error, "{events:#?}");
    let parent = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::Assistant(a) => match &a.block {
                ContentBlock::ToolUse { id, name, .. } if name == "Agent" => Some(id.clone()),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Agent tool use: {events:#?}"));
    let bash = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::Assistant(a) => match &a.block {
                ContentBlock::ToolUse { id, name, .. } if name == "Bash" => {
                    Some((id.clone(), a.parent_tool_use_id.clone()))
                }
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Bash tool use of the sub-agent: {events:#?}"));
    assert_eq!(bash.1.as_deref(), Some(parent.as_str()), "{events:#?}");
    let result = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::ToolResult(r) if r.tool_use_id == bash.0 => Some(r),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no result of the sub-agent's Bash: {events:#?}"));
    assert_eq!(result.parent_tool_use_id.as_deref(), Some(parent.as_str()));
    assert_eq!(result.text.trim(), "pod-a");
    // The hooks around the turn and the sub-agent, in order, with what they are about.
    let lifecycle: Vec<String> = log
        .entries()
        .into_iter()
        .filter(|entry| !entry.contains(':'))
        .collect();
    assert_eq!(
        lifecycle,
        ["UserPromptSubmit", "SubagentStart", "SubagentStop", "Stop"],
        "{:?}",
        log.entries()
    );
    let events = hooks.events.lock().unwrap().clone();
    let prompt = events
        .iter()
        .find(|e| e.kind == HookKind::UserPromptSubmit)
        .unwrap();
    assert_eq!(
        prompt.details["prompt"],
        json!("case-subagent-outer: check the pods")
    );
    let started = events
        .iter()
        .find(|e| e.kind == HookKind::SubagentStart)
        .unwrap();
    assert_eq!(
        started.details["agent_type"],
        json!("checker"),
        "{started:?}"
    );
    assert!(
        started.details.get("session_id").is_none(),
        "no bookkeeping"
    );
    // The sub-agent ran with its own instructions.
    let inner = h.model_requests("case-subagent-inner").remove(0);
    assert!(
        inner["system"].to_string().contains("You check pods."),
        "{inner}"
    );
    session.close().await.expect("close");
}

/// The effort option reaches the model request.
pub async fn effort_reaches_the_model(h: &AgentHarness) {
    h.script(Script::new("case-effort", vec![Reply::text("Done.")]));
    let spec = h.spec("effort", options(json!({"effort": "low"})));
    let session = h.runner.start(spec, allow_all()).await.expect("start");
    session.send_message("case-effort: hi").await.expect("send");
    let events = collect_turn(session.as_ref()).await;
    assert!(!turn_result(&events).is_error, "{events:#?}");
    let request = h.model_requests("case-effort").remove(0);
    assert_eq!(
        request.pointer("/output_config/effort"),
        Some(&json!("low")),
        "{request}"
    );
    session.close().await.expect("close");
}

/// A fork continues the conversation so far under a new id; the original goes on unchanged.
pub async fn fork_continues_the_conversation_and_leaves_the_original(h: &AgentHarness) {
    h.script(Script::new(
        "case-fork",
        vec![
            Reply::text("Noted."),
            Reply::text("In the fork."),
            Reply::text("In the original."),
        ],
    ));
    let session = h
        .runner
        .start(h.spec("fork", AgentOptions::default()), allow_all())
        .await
        .expect("start");
    session
        .send_message("case-fork: remember the word pelican")
        .await
        .expect("send");
    let events = collect_turn(session.as_ref()).await;
    let first_cost = turn_result(&events).total_cost_usd;
    let original = session.agent_session_id().expect("an id");
    session.close().await.expect("close");

    let mut spec = h.spec("fork", AgentOptions::default());
    spec.resume = Some(original.clone());
    spec.fork = true;
    let fork = h.runner.start(spec, allow_all()).await.expect("fork");
    fork.send_message("fork: what was the word?")
        .await
        .expect("send");
    let events = collect_turn(fork.as_ref()).await;
    assert!(!turn_result(&events).is_error, "{events:#?}");
    // One call each, with the same usage: the fork reports its own call's cost only.
    assert!(
        (turn_result(&events).total_cost_usd - first_cost).abs() < first_cost / 100.0,
        "the fork reports {} after one call of {first_cost}",
        turn_result(&events).total_cost_usd
    );
    let forked = fork.agent_session_id().expect("the fork's id");
    assert_ne!(forked, original, "a fork has its own id");
    let call = Value::Array(h.model_calls("case-fork").pop().expect("a call")).to_string();
    assert!(
        call.contains("remember the word pelican") && call.contains("fork: what was the word?"),
        "the fork sends the earlier conversation: {call}"
    );
    fork.close().await.expect("close");

    let mut spec = h.spec("fork", AgentOptions::default());
    spec.resume = Some(original.clone());
    let resumed = h.runner.start(spec, allow_all()).await.expect("resume");
    resumed
        .send_message("original: and now?")
        .await
        .expect("send");
    collect_turn(resumed.as_ref()).await;
    assert_eq!(
        resumed.agent_session_id().as_deref(),
        Some(original.as_str())
    );
    let call = Value::Array(h.model_calls("case-fork").pop().expect("a call")).to_string();
    assert!(call.contains("original: and now?"), "{call}");
    assert!(
        !call.contains("fork: what was the word?"),
        "the original does not hold the fork's turn: {call}"
    );
    resumed.close().await.expect("close");
}

/// A fork at a message keeps the conversation only up to and including it.
pub async fn fork_at_a_message_keeps_only_what_came_before(h: &AgentHarness) {
    h.script(Script::new(
        "case-fork-at",
        vec![
            Reply::text("First."),
            Reply::text("Second."),
            Reply::text("Third."),
        ],
    ));
    let session = h
        .runner
        .start(h.spec("fork-at", AgentOptions::default()), allow_all())
        .await
        .expect("start");
    session
        .send_message("case-fork-at: remember the word pelican")
        .await
        .expect("send");
    let first = collect_turn(session.as_ref()).await;
    let branch = first
        .iter()
        .find_map(|e| match e {
            AgentEvent::Assistant(a) => a.message_uuid.clone(),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no id on the assistant message: {first:#?}"));
    session
        .send_message("also remember the word heron")
        .await
        .expect("send");
    collect_turn(session.as_ref()).await;
    let original = session.agent_session_id().expect("an id");
    session.close().await.expect("close");

    let mut spec = h.spec("fork-at", AgentOptions::default());
    spec.resume = Some(original);
    spec.fork = true;
    spec.resume_at = Some(branch);
    let fork = h.runner.start(spec, allow_all()).await.expect("fork");
    fork.send_message("fork-at: which words?")
        .await
        .expect("send");
    let events = collect_turn(fork.as_ref()).await;
    assert!(!turn_result(&events).is_error, "{events:#?}");
    let call = Value::Array(h.model_calls("case-fork-at").pop().expect("a call")).to_string();
    assert!(
        call.contains("pelican") && call.contains("fork-at: which words?"),
        "{call}"
    );
    assert!(
        !call.contains("heron"),
        "the fork branches off before the second turn: {call}"
    );
    fork.close().await.expect("close");
}

/// `max_budget_usd` stops a turn between model calls (`error_max_budget_usd`). A resumed agent
/// reports and is capped by what its own process spends, whether or not the CLI carries the
/// conversation's earlier cost over (2.1.332 does, 2.1.197 does not).
pub async fn budget_stops_the_turn_and_a_resumed_agent_counts_only_its_own_cost(h: &AgentHarness) {
    h.script(Script::new(
        "case-budget",
        vec![
            Reply::bash("echo one"),
            Reply::bash("echo two"),
            Reply::text("Done."),
            Reply::text("Done."),
            Reply::text("Done."),
        ],
    ));
    // Every scripted call has the same usage, so the same cost.
    let spec = h.spec("budget", options(json!({"max_budget_usd": 0.0002})));
    let session = h.runner.start(spec, allow_all()).await.expect("start");
    session
        .send_message("case-budget: run two commands")
        .await
        .expect("send");
    let events = collect_turn(session.as_ref()).await;
    let stopped = turn_result(&events);
    assert_eq!(stopped.subtype, "error_max_budget_usd", "{events:#?}");
    let calls = h.model_calls("case-budget").len();
    let per_call = stopped.total_cost_usd / calls as f64;
    assert!(per_call > 0.0, "{stopped:?}");
    let conversation = session.agent_session_id().expect("an id");
    session.close().await.expect("close");

    // Room for two calls of its own, far less than the conversation has cost so far.
    let budget = per_call * 2.5;
    let mut spec = h.spec("budget", options(json!({ "max_budget_usd": budget })));
    spec.resume = Some(conversation);
    let session = h.runner.start(spec, allow_all()).await.expect("resume");
    session.send_message("Go on.").await.expect("send");
    let events = collect_turn(session.as_ref()).await;
    let result = turn_result(&events);
    let own_calls = h.model_calls("case-budget").len() - calls;
    assert!(own_calls <= 2, "{own_calls} calls after the resume");
    assert!(!result.is_error, "{events:#?}");
    assert!(
        (result.total_cost_usd - per_call * own_calls as f64).abs() < per_call / 100.0,
        "the resumed agent reports {} for {own_calls} calls of {per_call}",
        result.total_cost_usd
    );
    session.close().await.expect("close");
}
