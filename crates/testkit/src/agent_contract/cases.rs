//! The runner contract cases (issue 3's list). Each takes a harness with a fresh scripted world.

use std::sync::Arc;
use std::time::{Duration, Instant};

use overseer_domain::{AgentOptions, McpServerName, ModelName, PermissionMode};
use overseer_ports::agent::{
    AgentCallbacks, AgentEvent, AgentSession, ContentBlock, HookKind, HookVerdict,
    PermissionVerdict,
};
use serde_json::{Value, json};

use super::harness::AgentHarness;
use super::recorders::{CallLog, EchoServer, RecordingHooks, RecordingPermissions};
use crate::script::{Reply, Script, long_running_command};

const TURN_LIMIT: Duration = Duration::from_secs(60);

/// Reads events until the turn ends (or the agent fails / goes away).
pub async fn collect_turn(session: &dyn AgentSession) -> Vec<AgentEvent> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + TURN_LIMIT;
    loop {
        let next = tokio::time::timeout_at(deadline, session.next_event())
            .await
            .expect("turn timed out");
        let Some(event) = next else { break };
        let last = matches!(event, AgentEvent::TurnEnded(_) | AgentEvent::Failed(_));
        events.push(event);
        if last {
            break;
        }
    }
    events
}

/// A short label per event, for order assertions (unmodelled frames left out).
#[must_use]
pub fn labels(events: &[AgentEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Init(_) => Some("init".to_owned()),
            AgentEvent::Assistant(a) => Some(match &a.block {
                ContentBlock::ToolUse { name, .. } => format!("tool_use:{name}"),
                ContentBlock::Text(_) => "text".to_owned(),
                ContentBlock::Thinking(_) => "thinking".to_owned(),
                ContentBlock::Other(_) => "block".to_owned(),
            }),
            AgentEvent::ToolResult(r) => Some(format!(
                "tool_result{}",
                if r.is_error { ":error" } else { "" }
            )),
            AgentEvent::TurnEnded(r) => Some(format!("result:{}", r.subtype)),
            AgentEvent::Failed(_) => Some("failed".to_owned()),
            _ => None,
        })
        .collect()
}

pub(super) fn turn_result(events: &[AgentEvent]) -> &overseer_ports::agent::TurnResult {
    match events.last() {
        Some(AgentEvent::TurnEnded(result)) => result,
        other => panic!("the turn did not end with a result: {other:?}"),
    }
}

pub use crate::processes::processes_in_group;

pub(super) async fn assert_no_process_left(pgid: u32) {
    AgentHarness::eventually(
        Duration::from_secs(5),
        "the process group to be gone",
        || processes_in_group(pgid).is_empty(),
    )
    .await;
}

fn with_permissions(permissions: Arc<RecordingPermissions>) -> AgentCallbacks {
    AgentCallbacks {
        permissions: Some(permissions),
        ..AgentCallbacks::default()
    }
}

/// Allows every tool and records permissions and hooks in `log`.
pub(super) fn observed(log: &CallLog) -> AgentCallbacks {
    AgentCallbacks {
        permissions: Some(RecordingPermissions::allow_all(log.clone())),
        hooks: Some(RecordingHooks::new(HookVerdict::Continue, log.clone())),
        ..AgentCallbacks::default()
    }
}

/// 1. A Bash tool use writes a file in the working directory; events come in protocol order.
pub async fn bash_turn_writes_the_file_in_protocol_order(h: &AgentHarness) {
    h.script(Script::new(
        "case-bash",
        vec![
            Reply::bash("echo hello > out.txt"),
            Reply::text("Wrote it."),
        ],
    ));
    let log = CallLog::default();
    let callbacks = AgentCallbacks {
        permissions: Some(RecordingPermissions::allow_all(log.clone())),
        hooks: Some(RecordingHooks::new(HookVerdict::Continue, log.clone())),
        ..AgentCallbacks::default()
    };
    let session = h
        .runner
        .start(h.spec("bash", AgentOptions::default()), callbacks)
        .await
        .expect("start");
    session
        .send_message("case-bash: write hello to out.txt")
        .await
        .expect("send");
    let events = collect_turn(session.as_ref()).await;
    assert_eq!(
        labels(&events),
        [
            "init",
            "tool_use:Bash",
            "tool_result",
            "text",
            "result:success"
        ],
        "{events:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(h.workdir("bash").join("out.txt"))
            .expect("out.txt")
            .trim(),
        "hello"
    );
    assert_eq!(log.entries(), ["pre:Bash", "permission:Bash", "post:Bash"]);
    let result = turn_result(&events);
    assert!(!result.is_error);
    assert_eq!(result.result.as_deref(), Some("Wrote it."));
    // The model that answered, as the result reports it, is the one the answers came from.
    let answered = events.iter().find_map(|e| match e {
        AgentEvent::Assistant(block) => block.model.clone(),
        _ => None,
    });
    assert!(answered.is_some(), "{events:#?}");
    assert_eq!(result.model, answered, "{events:#?}");
    assert!(session.agent_session_id().is_some_and(|id| !id.is_empty()));
    session.close().await.expect("close");
}

/// 2a. A denied tool does not run, and the denial is reported.
pub async fn permission_deny_blocks_the_tool(h: &AgentHarness) {
    h.script(Script::new(
        "case-deny",
        vec![
            Reply::bash("echo no > denied.txt"),
            Reply::text("Understood."),
        ],
    ));
    let verdict = PermissionVerdict::Deny {
        message: "Denied by policy: no shell".into(),
        interrupt: false,
    };
    let permissions = RecordingPermissions::new(verdict, CallLog::default());
    let session = h
        .runner
        .start(
            h.spec("deny", AgentOptions::default()),
            with_permissions(permissions),
        )
        .await
        .expect("start");
    session
        .send_message("case-deny: try to write")
        .await
        .expect("send");
    let events = collect_turn(session.as_ref()).await;
    assert!(
        labels(&events).contains(&"tool_result:error".to_owned()),
        "{events:#?}"
    );
    assert!(
        !h.workdir("deny").join("denied.txt").exists(),
        "a denied tool must not run"
    );
    let denials = &turn_result(&events).permission_denials;
    assert_eq!(denials.len(), 1, "{denials:?}");
    assert_eq!(denials[0].tool_name, "Bash");
    let model_saw = h
        .model_calls("case-deny")
        .last()
        .cloned()
        .unwrap_or_default();
    assert!(
        Value::Array(model_saw)
            .to_string()
            .contains("Denied by policy: no shell")
    );
    session.close().await.expect("close");
}

/// 2b. An allow with a rewritten input runs the rewritten input.
pub async fn permission_rewrite_runs_the_rewritten_input(h: &AgentHarness) {
    h.script(Script::new(
        "case-rewrite",
        vec![
            Reply::bash("echo original > original.txt"),
            Reply::text("ok"),
        ],
    ));
    let rewritten =
        json!({"command": "echo rewritten > rewritten.txt", "description": "rewritten by policy"});
    let verdict = PermissionVerdict::Allow {
        updated_input: Some(rewritten),
    };
    let permissions = RecordingPermissions::new(verdict, CallLog::default());
    let session = h
        .runner
        .start(
            h.spec("rewrite", AgentOptions::default()),
            with_permissions(permissions),
        )
        .await
        .expect("start");
    session
        .send_message("case-rewrite: write a file")
        .await
        .expect("send");
    let events = collect_turn(session.as_ref()).await;
    assert!(!turn_result(&events).is_error, "{events:#?}");
    assert!(
        h.workdir("rewrite").join("rewritten.txt").exists(),
        "the rewritten command ran"
    );
    assert!(
        !h.workdir("rewrite").join("original.txt").exists(),
        "the original command did not"
    );
    session.close().await.expect("close");
}

/// 3. Hooks see the tool name, input and response; a PreToolUse deny blocks the tool.
pub async fn hooks_observe_and_pre_tool_use_deny_blocks(h: &AgentHarness) {
    h.script(Script::new(
        "case-hooks",
        vec![Reply::bash("echo observed"), Reply::text("ok")],
    ));
    h.script(Script::new(
        "case-hook-deny",
        vec![Reply::bash("echo x > blocked.txt"), Reply::text("ok")],
    ));
    let log = CallLog::default();
    let hooks = RecordingHooks::new(HookVerdict::Continue, log.clone());
    let callbacks = AgentCallbacks {
        permissions: Some(RecordingPermissions::allow_all(log.clone())),
        hooks: Some(hooks.clone()),
        ..AgentCallbacks::default()
    };
    let session = h
        .runner
        .start(h.spec("hooks", AgentOptions::default()), callbacks)
        .await
        .expect("start");
    session
        .send_message("case-hooks: echo something")
        .await
        .expect("send");
    collect_turn(session.as_ref()).await;
    session.close().await.expect("close");
    let events = hooks.events.lock().unwrap().clone();
    let pre = events
        .iter()
        .find(|e| e.kind == HookKind::PreToolUse)
        .expect("a PreToolUse hook");
    let post = events
        .iter()
        .find(|e| e.kind == HookKind::PostToolUse)
        .expect("a PostToolUse hook");
    for event in [pre, post] {
        assert_eq!(event.tool_name, "Bash");
        assert_eq!(event.tool_input["command"], json!("echo observed"));
        assert!(event.tool_use_id.is_some());
    }
    assert!(pre.tool_response.is_none());
    let response = post
        .tool_response
        .as_ref()
        .expect("PostToolUse carries the response")
        .to_string();
    assert!(response.contains("observed"), "{response}");

    let denying = RecordingHooks::new(
        HookVerdict::Deny {
            reason: "blocked by hook".into(),
        },
        CallLog::default(),
    );
    let callbacks = AgentCallbacks {
        permissions: Some(RecordingPermissions::allow_all(CallLog::default())),
        hooks: Some(denying),
        ..AgentCallbacks::default()
    };
    let session = h
        .runner
        .start(h.spec("hook-deny", AgentOptions::default()), callbacks)
        .await
        .expect("start");
    session
        .send_message("case-hook-deny: write")
        .await
        .expect("send");
    let events = collect_turn(session.as_ref()).await;
    assert!(
        labels(&events).contains(&"tool_result:error".to_owned()),
        "{events:#?}"
    );
    assert!(
        !h.workdir("hook-deny").join("blocked.txt").exists(),
        "a hook deny must block the tool"
    );
    session.close().await.expect("close");
}

/// 4. An in-process MCP tool is listed at init and called.
pub async fn in_process_mcp_tool_is_listed_and_called(h: &AgentHarness) {
    h.script(Script::new(
        "case-mcp",
        vec![
            Reply::tool("mcp__ops__echo", json!({"text": "ping"})),
            Reply::text("ok"),
        ],
    ));
    let server = Arc::new(EchoServer::default());
    let mut callbacks = with_permissions(RecordingPermissions::allow_all(CallLog::default()));
    callbacks
        .mcp_servers
        .insert(McpServerName::new("ops").expect("name"), server.clone());
    let session = h
        .runner
        .start(h.spec("mcp", AgentOptions::default()), callbacks)
        .await
        .expect("start");
    session
        .send_message("case-mcp: call the echo tool")
        .await
        .expect("send");
    let events = collect_turn(session.as_ref()).await;
    let Some(AgentEvent::Init(init)) = events.first() else {
        panic!("{events:#?}")
    };
    assert!(
        init.tools.iter().any(|t| t == "mcp__ops__echo"),
        "{:?}",
        init.tools
    );
    assert!(
        init.mcp_servers
            .iter()
            .any(|s| s.name == "ops" && s.status == "connected"),
        "{:?}",
        init.mcp_servers
    );
    assert_eq!(*server.calls.lock().unwrap(), vec![json!({"text": "ping"})]);
    let result = events.iter().find_map(|e| match e {
        AgentEvent::ToolResult(r) => Some(r.text.clone()),
        _ => None,
    });
    assert!(
        result.is_some_and(|r| r.contains("echo: ping")),
        "{events:#?}"
    );
    session.close().await.expect("close");
}

/// 5. Interrupt during a 30 s command: the turn ends within 2 s; the same session answers again.
pub async fn interrupt_ends_the_turn_and_the_session_goes_on(h: &AgentHarness) {
    h.script(Script::new(
        "case-interrupt",
        vec![
            Reply::bash(&long_running_command(30)),
            Reply::text("Second answer."),
        ],
    ));
    let log = CallLog::default();
    let session = h
        .runner
        .start(h.spec("interrupt", AgentOptions::default()), observed(&log))
        .await
        .expect("start");
    session
        .send_message("case-interrupt: sleep for a long time")
        .await
        .expect("send");
    // Whether or not the CLI asks permission for the command, the PreToolUse hook fires.
    AgentHarness::eventually(Duration::from_secs(30), "the sleep to start", || {
        log.contains("pre:Bash")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let interrupted = Instant::now();
    session.interrupt().await.expect("interrupt");
    let events = collect_turn(session.as_ref()).await;
    assert!(
        interrupted.elapsed() < Duration::from_secs(2),
        "the turn took {:?} to end",
        interrupted.elapsed()
    );
    assert!(turn_result(&events).is_error, "{events:#?}");
    session
        .send_message("case-interrupt: are you still there?")
        .await
        .expect("send again");
    let events = collect_turn(session.as_ref()).await;
    assert_eq!(
        turn_result(&events).result.as_deref(),
        Some("Second answer."),
        "{events:#?}"
    );
    session.close().await.expect("close");
}

/// 6. Close, then resume: the model receives the earlier conversation.
pub async fn resume_continues_the_conversation(h: &AgentHarness) {
    h.script(Script::new(
        "case-resume",
        vec![Reply::text("First answer."), Reply::text("Second answer.")],
    ));
    let session = h
        .runner
        .start(
            h.spec("resume", AgentOptions::default()),
            AgentCallbacks::default(),
        )
        .await
        .expect("start");
    session
        .send_message("case-resume: remember the word pelican")
        .await
        .expect("send");
    collect_turn(session.as_ref()).await;
    let agent_session_id = session.agent_session_id().expect("a session id to resume");
    session.close().await.expect("close");

    let mut spec = h.spec("resume", AgentOptions::default());
    spec.resume = Some(agent_session_id.clone());
    let resumed = h
        .runner
        .start(spec, AgentCallbacks::default())
        .await
        .expect("resume");
    resumed
        .send_message("what was the word?")
        .await
        .expect("send");
    let events = collect_turn(resumed.as_ref()).await;
    assert_eq!(
        turn_result(&events).result.as_deref(),
        Some("Second answer."),
        "{events:#?}"
    );
    assert_eq!(
        resumed.agent_session_id().as_deref(),
        Some(agent_session_id.as_str())
    );
    let last_call =
        Value::Array(h.model_calls("case-resume").pop().expect("a model call")).to_string();
    assert!(
        last_call.contains("remember the word pelican"),
        "{last_call}"
    );
    assert!(last_call.contains("First answer."), "{last_call}");
    assert!(last_call.contains("what was the word?"), "{last_call}");
    resumed.close().await.expect("close");
}

/// 6b. Resuming an unknown conversation fails at start with the CLI's reason.
pub async fn resume_of_unknown_conversation_fails_at_start(h: &AgentHarness) {
    let mut spec = h.spec("unknown-resume", AgentOptions::default());
    spec.resume = Some("00000000-0000-4000-8000-000000000000".to_owned());
    let Err(err) = h.runner.start(spec, AgentCallbacks::default()).await else {
        panic!("resuming an unknown conversation must fail");
    };
    assert!(err.to_string().contains("No conversation found"), "{err}");
}

/// Permission mode and model can be changed on a live agent, which keeps working.
pub async fn permission_mode_and_model_can_change(h: &AgentHarness) {
    h.script(Script::new("case-modes", vec![Reply::text("Still here.")]));
    let session = h
        .runner
        .start(
            h.spec("modes", AgentOptions::default()),
            AgentCallbacks::default(),
        )
        .await
        .expect("start");
    session
        .set_permission_mode(PermissionMode::AcceptEdits)
        .await
        .expect("set_permission_mode");
    session
        .set_model(Some(ModelName::new("claude-sonnet-4-5").expect("model")))
        .await
        .expect("set_model");
    session
        .set_model(None)
        .await
        .expect("back to the default model");
    session
        .send_message("case-modes: hello")
        .await
        .expect("send");
    let events = collect_turn(session.as_ref()).await;
    assert_eq!(
        turn_result(&events).result.as_deref(),
        Some("Still here."),
        "{events:#?}"
    );
    session.close().await.expect("close");
}
