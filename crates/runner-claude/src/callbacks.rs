//! Answers the CLI's control requests by calling the host's callbacks. Every function here
//! returns the `response` object (or an error string) for one request; sending it is the
//! session's job.

use overseer_ports::agent::{
    AgentCallbacks, HookEvent, HookKind, HookVerdict, McpToolServer, PermissionRequest,
    PermissionVerdict,
};
use serde_json::{Value, json};

/// The hook callback ids we register at initialize.
pub const PRE_TOOL_USE_CALLBACK: &str = "hook_pre";
pub const POST_TOOL_USE_CALLBACK: &str = "hook_post";

/// The callback id we register for `kind`.
fn callback_id(kind: HookKind) -> &'static str {
    match kind {
        HookKind::PreToolUse => PRE_TOOL_USE_CALLBACK,
        HookKind::PostToolUse => POST_TOOL_USE_CALLBACK,
        HookKind::UserPromptSubmit => "hook_user_prompt_submit",
        HookKind::Stop => "hook_stop",
        HookKind::SubagentStart => "hook_subagent_start",
        HookKind::SubagentStop => "hook_subagent_stop",
        HookKind::PreCompact => "hook_pre_compact",
        HookKind::Notification => "hook_notification",
    }
}

/// What a hook's input holds about the session rather than the event.
const BOOKKEEPING: [&str; 5] = [
    "session_id",
    "transcript_path",
    "cwd",
    "hook_event_name",
    "permission_mode",
];
/// How long the CLI waits for our PreToolUse answer (it may be waiting for an approval).
pub const PRE_TOOL_USE_TIMEOUT_SECONDS: u64 = 3600;

/// The `hooks` part of our initialize request.
#[must_use]
pub fn hook_registration(callbacks: &AgentCallbacks) -> Value {
    let Some(hooks) = &callbacks.hooks else {
        return Value::Null;
    };
    let mut registration = serde_json::Map::new();
    for kind in hooks.kinds() {
        let entry = match kind {
            // A PreToolUse answer may wait for a person's approval: give it the longest time
            // the approvals allow, not the CLI's default hook timeout.
            HookKind::PreToolUse => {
                json!([{"matcher": null, "hookCallbackIds": [PRE_TOOL_USE_CALLBACK], "timeout": PRE_TOOL_USE_TIMEOUT_SECONDS}])
            }
            other => json!([{"matcher": null, "hookCallbackIds": [callback_id(*other)]}]),
        };
        registration.insert(kind.as_str().to_owned(), entry);
    }
    Value::Object(registration)
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Answers one control request from the CLI.
///
/// # Errors
/// A message for an `error` reply: an unsupported subtype, or a request we cannot serve.
pub async fn answer(callbacks: &AgentCallbacks, request: &Value) -> Result<Value, String> {
    match request.get("subtype").and_then(Value::as_str) {
        Some("can_use_tool") => Ok(permission(callbacks, request).await),
        Some("hook_callback") => Ok(hook(callbacks, request).await),
        Some("mcp_message") => Ok(mcp_message(callbacks, request).await),
        other => Err(format!(
            "Unsupported control request subtype: {}",
            other.unwrap_or("<none>")
        )),
    }
}

async fn permission(callbacks: &AgentCallbacks, request: &Value) -> Value {
    let input = request.get("input").cloned().unwrap_or_else(|| json!({}));
    let Some(handler) = &callbacks.permissions else {
        // Only reached if the CLI asks without `--permission-prompt-tool stdio`: deny, safely.
        return json!({"behavior": "deny", "message": "no permission handler is configured"});
    };
    let verdict = handler
        .decide(PermissionRequest {
            tool_name: text(request, "tool_name").unwrap_or_default(),
            input: input.clone(),
            tool_use_id: text(request, "tool_use_id"),
            blocked_path: text(request, "blocked_path"),
        })
        .await;
    match verdict {
        // The CLI runs `updatedInput`: always send it, the original when unchanged.
        PermissionVerdict::Allow { updated_input } => {
            json!({"behavior": "allow", "updatedInput": updated_input.unwrap_or(input)})
        }
        PermissionVerdict::Deny { message, interrupt } => {
            let mut reply = json!({"behavior": "deny", "message": message});
            if interrupt {
                reply["interrupt"] = Value::Bool(true);
            }
            reply
        }
    }
}

async fn hook(callbacks: &AgentCallbacks, request: &Value) -> Value {
    let input = request.get("input").cloned().unwrap_or(Value::Null);
    let id = request.get("callback_id").and_then(Value::as_str);
    let Some(kind) = HookKind::ALL
        .iter()
        .copied()
        .find(|kind| Some(callback_id(*kind)) == id)
    else {
        return json!({"continue": true});
    };
    let Some(handler) = &callbacks.hooks else {
        return json!({"continue": true});
    };
    let verdict = handler
        .on_hook(HookEvent {
            kind,
            tool_name: text(&input, "tool_name").unwrap_or_default(),
            tool_input: input.get("tool_input").cloned().unwrap_or(Value::Null),
            tool_use_id: text(&input, "tool_use_id").or_else(|| text(request, "tool_use_id")),
            tool_response: input.get("tool_response").cloned(),
            duration_ms: input.get("duration_ms").and_then(Value::as_u64),
            details: if kind.is_tool_hook() {
                Value::Null
            } else {
                let mut details = input.as_object().cloned().unwrap_or_default();
                for key in BOOKKEEPING {
                    details.remove(key);
                }
                Value::Object(details)
            },
        })
        .await;
    let event_name = kind.as_str();
    match verdict {
        HookVerdict::Continue => json!({"continue": true}),
        HookVerdict::Deny { reason } => json!({"hookSpecificOutput": {
            "hookEventName": event_name, "permissionDecision": "deny", "permissionDecisionReason": reason
        }}),
        HookVerdict::RewriteInput { input } => json!({"hookSpecificOutput": {
            "hookEventName": event_name, "permissionDecision": "allow", "updatedInput": input
        }}),
        HookVerdict::Stop { reason } => json!({"continue": false, "stopReason": reason}),
        HookVerdict::AddContext { context } => json!({"hookSpecificOutput": {
            "hookEventName": event_name, "additionalContext": context
        }}),
    }
}

/// Serves one JSON-RPC message for an in-process MCP server.
async fn mcp_message(callbacks: &AgentCallbacks, request: &Value) -> Value {
    let message = request.get("message").cloned().unwrap_or(Value::Null);
    let id = message.get("id").cloned();
    let server_name = text(request, "server_name").unwrap_or_default();
    let server = callbacks
        .mcp_servers
        .iter()
        .find(|(name, _)| name.as_str() == server_name)
        .map(|(_, server)| server);
    let method = message
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let response = match (server, id) {
        // Notifications (no id) need no answer beyond an empty result.
        (_, None) => json!({"jsonrpc": "2.0", "result": {}}),
        (None, Some(id)) => rpc_error(&id, -32601, &format!("unknown MCP server '{server_name}'")),
        (Some(server), Some(id)) => {
            serve(server.as_ref(), &server_name, method, &message, &id).await
        }
    };
    json!({ "mcp_response": response })
}

async fn serve(
    server: &dyn McpToolServer,
    server_name: &str,
    method: &str,
    message: &Value,
    id: &Value,
) -> Value {
    let result = match method {
        "initialize" => json!({
            "protocolVersion": message.pointer("/params/protocolVersion").cloned().unwrap_or(json!("2024-11-05")),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": server_name, "version": env!("CARGO_PKG_VERSION")},
        }),
        "tools/list" => {
            let tools: Vec<Value> = server
                .tools()
                .into_iter()
                .map(|t| json!({"name": t.name, "description": t.description, "inputSchema": t.input_schema}))
                .collect();
            json!({ "tools": tools })
        }
        "tools/call" => {
            let tool = message
                .pointer("/params/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let arguments = message
                .pointer("/params/arguments")
                .cloned()
                .unwrap_or_else(|| json!({}));
            let output = server.call(tool, arguments).await;
            json!({"content": [{"type": "text", "text": output.text}], "isError": output.is_error})
        }
        "ping" => json!({}),
        other => return rpc_error(id, -32601, &format!("method '{other}' not found")),
    };
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn rpc_error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use overseer_domain::McpServerName;
    use overseer_ports::agent::{
        McpTool, McpToolOutput, MockHookHandler, MockMcpToolServer, MockPermissionHandler,
    };

    use super::*;

    fn registration_for(kinds: &'static [HookKind]) -> Value {
        let mut handler = MockHookHandler::new();
        handler.expect_kinds().return_const(kinds);
        hook_registration(&AgentCallbacks {
            hooks: Some(Arc::new(handler)),
            ..AgentCallbacks::default()
        })
    }

    #[test]
    fn only_the_hooks_a_handler_asks_for_are_registered() {
        let both = registration_for(&[HookKind::PreToolUse, HookKind::PostToolUse]);
        assert_eq!(
            both["PreToolUse"][0]["hookCallbackIds"][0],
            json!(PRE_TOOL_USE_CALLBACK)
        );
        assert_eq!(
            both["PreToolUse"][0]["timeout"],
            json!(PRE_TOOL_USE_TIMEOUT_SECONDS)
        );
        assert_eq!(
            both["PostToolUse"][0]["hookCallbackIds"][0],
            json!(POST_TOOL_USE_CALLBACK)
        );
        let pre_only = registration_for(&[HookKind::PreToolUse]);
        assert!(pre_only.get("PostToolUse").is_none(), "{pre_only}");
        assert_eq!(hook_registration(&AgentCallbacks::default()), Value::Null);
    }

    fn with_permissions(verdict: PermissionVerdict) -> AgentCallbacks {
        let mut handler = MockPermissionHandler::new();
        handler
            .expect_decide()
            .withf(|r| r.tool_name == "Bash" && r.tool_use_id.as_deref() == Some("toolu_1"))
            .return_const(verdict);
        AgentCallbacks {
            permissions: Some(Arc::new(handler)),
            ..AgentCallbacks::default()
        }
    }

    fn can_use_tool() -> Value {
        json!({"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"ls"},"tool_use_id":"toolu_1"})
    }

    #[tokio::test]
    async fn allow_always_carries_the_input_to_run() {
        let callbacks = with_permissions(PermissionVerdict::Allow {
            updated_input: None,
        });
        assert_eq!(
            answer(&callbacks, &can_use_tool()).await.unwrap(),
            json!({"behavior":"allow","updatedInput":{"command":"ls"}})
        );
        let rewritten = json!({"command":"ls -la"});
        let callbacks = with_permissions(PermissionVerdict::Allow {
            updated_input: Some(rewritten.clone()),
        });
        assert_eq!(
            answer(&callbacks, &can_use_tool()).await.unwrap()["updatedInput"],
            rewritten
        );
    }

    #[tokio::test]
    async fn deny_with_and_without_interrupt() {
        let callbacks = with_permissions(PermissionVerdict::Deny {
            message: "no shell".into(),
            interrupt: false,
        });
        assert_eq!(
            answer(&callbacks, &can_use_tool()).await.unwrap(),
            json!({"behavior":"deny","message":"no shell"})
        );
        let callbacks = with_permissions(PermissionVerdict::Deny {
            message: "stop".into(),
            interrupt: true,
        });
        assert_eq!(
            answer(&callbacks, &can_use_tool()).await.unwrap()["interrupt"],
            json!(true)
        );
    }

    #[tokio::test]
    async fn hooks_map_each_verdict() {
        let cases = [
            (HookVerdict::Continue, json!({"continue": true})),
            (
                HookVerdict::Stop {
                    reason: "enough".into(),
                },
                json!({"continue": false, "stopReason": "enough"}),
            ),
            (
                HookVerdict::Deny {
                    reason: "policy".into(),
                },
                json!({"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"policy"}}),
            ),
            (
                HookVerdict::RewriteInput {
                    input: json!({"command":"true"}),
                },
                json!({"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow","updatedInput":{"command":"true"}}}),
            ),
        ];
        for (verdict, expected) in cases {
            let mut hooks = MockHookHandler::new();
            hooks
                .expect_on_hook()
                .withf(|e| {
                    e.kind == HookKind::PreToolUse
                        && e.tool_name == "Bash"
                        && e.tool_input == json!({"command":"ls"})
                })
                .return_const(verdict);
            let callbacks = AgentCallbacks {
                hooks: Some(Arc::new(hooks)),
                ..AgentCallbacks::default()
            };
            let request = json!({"subtype":"hook_callback","callback_id":"hook_pre","input":{
                "hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"},"tool_use_id":"toolu_1"}});
            assert_eq!(answer(&callbacks, &request).await.unwrap(), expected);
        }
    }

    #[tokio::test]
    async fn post_tool_use_hook_sees_the_response() {
        let mut hooks = MockHookHandler::new();
        hooks
            .expect_on_hook()
            .withf(|e| {
                e.kind == HookKind::PostToolUse
                    && e.tool_response == Some(json!({"stdout":"hi"}))
                    && e.duration_ms == Some(224)
            })
            .return_const(HookVerdict::Continue);
        let callbacks = AgentCallbacks {
            hooks: Some(Arc::new(hooks)),
            ..AgentCallbacks::default()
        };
        let request = json!({"subtype":"hook_callback","callback_id":"hook_post","input":{
            "tool_name":"Bash","tool_input":{},"tool_response":{"stdout":"hi"},"duration_ms":224}});
        assert_eq!(
            answer(&callbacks, &request).await.unwrap(),
            json!({"continue": true})
        );
    }

    #[test]
    fn every_kind_registers_under_the_agents_name_with_its_own_callback() {
        let all = registration_for(HookKind::ALL);
        let mut ids = std::collections::BTreeSet::new();
        for kind in HookKind::ALL {
            let id = all[kind.as_str()][0]["hookCallbackIds"][0].clone();
            assert!(ids.insert(id.to_string()), "{kind:?} shares {id}");
        }
        assert_eq!(ids.len(), HookKind::ALL.len());
    }

    #[tokio::test]
    async fn a_lifecycle_hook_reaches_the_handler_with_its_details_only() {
        let mut hooks = MockHookHandler::new();
        hooks
            .expect_on_hook()
            .withf(|e| {
                e.kind == HookKind::SubagentStart
                    && e.details == json!({"agent_id": "a1", "agent_type": "checker"})
                    && e.tool_name.is_empty()
            })
            .return_const(HookVerdict::Continue);
        let callbacks = AgentCallbacks {
            hooks: Some(Arc::new(hooks)),
            ..AgentCallbacks::default()
        };
        let request = json!({"subtype":"hook_callback","callback_id":"hook_subagent_start","input":{
            "session_id":"s","transcript_path":"/t.jsonl","cwd":"/w","hook_event_name":"SubagentStart",
            "agent_id":"a1","agent_type":"checker"}});
        assert_eq!(
            answer(&callbacks, &request).await.unwrap(),
            json!({"continue": true})
        );
    }

    fn ops_server() -> AgentCallbacks {
        let mut server = MockMcpToolServer::new();
        server.expect_tools().returning(|| {
            vec![McpTool {
                name: "ping".into(),
                description: "Ping a host".into(),
                input_schema: json!({"type":"object"}),
            }]
        });
        server
            .expect_call()
            .withf(|tool, args| tool == "ping" && args == &json!({"host":"db"}))
            .returning(|_, _| McpToolOutput {
                text: "pong".into(),
                is_error: false,
            });
        let mut callbacks = AgentCallbacks::default();
        callbacks
            .mcp_servers
            .insert(McpServerName::new("ops").unwrap(), Arc::new(server));
        callbacks
    }

    fn mcp(server: &str, message: Value) -> Value {
        json!({"subtype":"mcp_message","server_name":server,"message":message})
    }

    #[tokio::test]
    async fn in_process_mcp_handshake_list_and_call() {
        let callbacks = ops_server();
        let init = answer(&callbacks, &mcp("ops", json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}))).await.unwrap();
        assert_eq!(
            init["mcp_response"]["result"]["protocolVersion"],
            json!("2025-06-18")
        );
        let note = answer(
            &callbacks,
            &mcp(
                "ops",
                json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
            ),
        )
        .await
        .unwrap();
        assert_eq!(note, json!({"mcp_response":{"jsonrpc":"2.0","result":{}}}));
        let list = answer(
            &callbacks,
            &mcp("ops", json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})),
        )
        .await
        .unwrap();
        assert_eq!(
            list["mcp_response"]["result"]["tools"][0]["name"],
            json!("ping")
        );
        let call = answer(&callbacks, &mcp("ops", json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ping","arguments":{"host":"db"}}}))).await.unwrap();
        assert_eq!(
            call["mcp_response"]["result"],
            json!({"content":[{"type":"text","text":"pong"}],"isError":false})
        );
    }

    #[tokio::test]
    async fn unknown_server_method_and_subtype_are_errors() {
        let callbacks = ops_server();
        let unknown = answer(
            &callbacks,
            &mcp(
                "nope",
                json!({"jsonrpc":"2.0","id":5,"method":"tools/list"}),
            ),
        )
        .await
        .unwrap();
        assert_eq!(unknown["mcp_response"]["error"]["code"], json!(-32601));
        let method = answer(
            &callbacks,
            &mcp(
                "ops",
                json!({"jsonrpc":"2.0","id":6,"method":"resources/list"}),
            ),
        )
        .await
        .unwrap();
        assert_eq!(method["mcp_response"]["error"]["code"], json!(-32601));
        assert!(
            answer(&callbacks, &json!({"subtype":"teleport"}))
                .await
                .is_err()
        );
    }
}
