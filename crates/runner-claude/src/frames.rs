//! Turns one stdout line (already parsed as JSON) into what the reader must do with it.
//! Tolerant by design: unknown types and fields are kept, never an error.

use overseer_domain::tool_result_text;
use overseer_ports::agent::{
    AgentEvent, ApiRetry, AssistantBlock, ContentBlock, InitEvent, McpServerStatus,
    PermissionDenial, TokenUsage, ToolResultEvent, TurnResult,
};
use serde_json::Value;

/// One frame from the CLI, sorted by who must handle it.
#[derive(Debug, PartialEq)]
pub enum Incoming {
    /// The answer to one of our control requests.
    ControlResponse {
        request_id: String,
        outcome: Result<Value, String>,
    },
    /// The CLI asks us something (permission, hook, MCP message).
    ControlRequest {
        request_id: String,
        request: Value,
    },
    /// The CLI withdrew one of its requests.
    ControlCancel {
        request_id: String,
    },
    KeepAlive,
    /// Events for the consumer (an assistant frame may hold several blocks).
    Events(Vec<AgentEvent>),
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn number(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Classifies a frame.
#[must_use]
pub fn classify(frame: Value) -> Incoming {
    match frame.get("type").and_then(Value::as_str) {
        Some("control_response") => {
            let response = frame.get("response").cloned().unwrap_or(Value::Null);
            let request_id = text(&response, "request_id").unwrap_or_default();
            let outcome = if response.get("subtype").and_then(Value::as_str) == Some("success") {
                Ok(response.get("response").cloned().unwrap_or(Value::Null))
            } else {
                Err(text(&response, "error").unwrap_or_else(|| "unknown error".to_owned()))
            };
            Incoming::ControlResponse {
                request_id,
                outcome,
            }
        }
        Some("control_request") => Incoming::ControlRequest {
            request_id: text(&frame, "request_id").unwrap_or_default(),
            request: frame.get("request").cloned().unwrap_or(Value::Null),
        },
        Some("control_cancel_request") => Incoming::ControlCancel {
            request_id: text(&frame, "request_id").unwrap_or_default(),
        },
        Some("keep_alive") => Incoming::KeepAlive,
        Some("assistant") => Incoming::Events(assistant(&frame)),
        Some("user") => Incoming::Events(user(&frame)),
        Some("result") => Incoming::Events(vec![AgentEvent::TurnEnded(turn_result(frame))]),
        Some("system") => Incoming::Events(vec![system(frame)]),
        Some("stream_event") => Incoming::Events(vec![AgentEvent::Stream(frame)]),
        _ => Incoming::Events(vec![AgentEvent::Other(frame)]),
    }
}

fn content_block(block: &Value) -> ContentBlock {
    match block.get("type").and_then(Value::as_str) {
        Some("text") => ContentBlock::Text(text(block, "text").unwrap_or_default()),
        Some("tool_use") => ContentBlock::ToolUse {
            id: text(block, "id").unwrap_or_default(),
            name: text(block, "name").unwrap_or_default(),
            input: block.get("input").cloned().unwrap_or(Value::Null),
        },
        Some("thinking") => ContentBlock::Thinking(text(block, "thinking").unwrap_or_default()),
        _ => ContentBlock::Other(block.clone()),
    }
}

fn assistant(frame: &Value) -> Vec<AgentEvent> {
    let message = frame.get("message").cloned().unwrap_or(Value::Null);
    let blocks = message
        .get("content")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let api_error = frame
        .get("error")
        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned));
    blocks
        .iter()
        .map(|block| {
            AgentEvent::Assistant(AssistantBlock {
                message_id: text(&message, "id").unwrap_or_default(),
                model: text(&message, "model"),
                parent_tool_use_id: text(frame, "parent_tool_use_id"),
                message_uuid: text(frame, "uuid"),
                block: content_block(block),
                api_error: api_error.clone(),
                raw: frame.clone(),
            })
        })
        .collect()
}

fn user(frame: &Value) -> Vec<AgentEvent> {
    let blocks = frame
        .pointer("/message/content")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let results: Vec<AgentEvent> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        .map(|b| {
            AgentEvent::ToolResult(ToolResultEvent {
                tool_use_id: text(b, "tool_use_id").unwrap_or_default(),
                text: tool_result_text(b.get("content").unwrap_or(&Value::Null)),
                // The CLI's own account of the tool's result (`{"stdout", "stderr", …}` for
                // Bash); a plain string there only repeats the text.
                structured: frame
                    .get("tool_use_result")
                    .filter(|r| r.is_object())
                    .cloned(),
                is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
                parent_tool_use_id: text(frame, "parent_tool_use_id"),
                raw: frame.clone(),
            })
        })
        .collect();
    if results.is_empty() {
        vec![AgentEvent::Other(frame.clone())]
    } else {
        results
    }
}

fn usage(value: Option<&Value>) -> TokenUsage {
    let Some(u) = value else {
        return TokenUsage::default();
    };
    TokenUsage {
        input_tokens: number(u, "input_tokens"),
        output_tokens: number(u, "output_tokens"),
        cache_creation_input_tokens: number(u, "cache_creation_input_tokens"),
        cache_read_input_tokens: number(u, "cache_read_input_tokens"),
    }
}

fn turn_result(frame: Value) -> TurnResult {
    let denials = frame
        .get("permission_denials")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|d| PermissionDenial {
                    tool_name: text(d, "tool_name").unwrap_or_default(),
                    tool_use_id: text(d, "tool_use_id").unwrap_or_default(),
                    tool_input: d.get("tool_input").cloned().unwrap_or(Value::Null),
                })
                .collect()
        })
        .unwrap_or_default();
    TurnResult {
        subtype: text(&frame, "subtype").unwrap_or_default(),
        is_error: frame
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        result: text(&frame, "result"),
        num_turns: number(&frame, "num_turns"),
        duration_ms: number(&frame, "duration_ms"),
        total_cost_usd: frame
            .get("total_cost_usd")
            .and_then(Value::as_f64)
            .unwrap_or(0.0),
        usage: usage(frame.get("usage")),
        permission_denials: denials,
        structured_output: frame
            .get("structured_output")
            .filter(|v| !v.is_null())
            .cloned(),
        terminal_reason: text(&frame, "terminal_reason"),
        api_error_status: frame
            .get("api_error_status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok()),
        agent_session_id: text(&frame, "session_id"),
        // `modelUsage` is keyed by model, the first key as before the field existed. Some CLI
        // versions (2.1.197) suffix the key with a context-window variant, `claude-x[1m]`,
        // which is not the model's name: the API's name is what the messages carry.
        model: frame
            .get("modelUsage")
            .and_then(Value::as_object)
            .and_then(|models| models.keys().next())
            .map(|key| {
                key.split_once('[')
                    .map_or(key.as_str(), |(name, _)| name)
                    .to_owned()
            }),
        raw: frame,
    }
}

fn system(frame: Value) -> AgentEvent {
    match frame.get("subtype").and_then(Value::as_str) {
        Some("init") => AgentEvent::Init(InitEvent {
            agent_session_id: text(&frame, "session_id").unwrap_or_default(),
            model: text(&frame, "model"),
            tools: frame
                .get("tools")
                .and_then(Value::as_array)
                .map(|t| {
                    t.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            mcp_servers: frame
                .get("mcp_servers")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .map(|s| McpServerStatus {
                            name: text(s, "name").unwrap_or_default(),
                            status: text(s, "status").unwrap_or_default(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            raw: frame,
        }),
        Some("api_retry") => AgentEvent::ApiRetry(ApiRetry {
            attempt: number(&frame, "attempt"),
            max_retries: number(&frame, "max_retries"),
            retry_delay_ms: number(&frame, "retry_delay_ms"),
            error_status: frame
                .get("error_status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok()),
            raw: frame,
        }),
        _ => AgentEvent::Other(frame),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn control_frames() {
        assert_eq!(
            classify(
                json!({"type":"control_response","response":{"subtype":"success","request_id":"req_1","response":{"pid":7}}})
            ),
            Incoming::ControlResponse {
                request_id: "req_1".into(),
                outcome: Ok(json!({"pid":7}))
            }
        );
        assert_eq!(
            classify(
                json!({"type":"control_response","response":{"subtype":"error","request_id":"req_2","error":"Unsupported"}})
            ),
            Incoming::ControlResponse {
                request_id: "req_2".into(),
                outcome: Err("Unsupported".into())
            }
        );
        assert!(matches!(
            classify(json!({"type":"control_request","request_id":"abc","request":{"subtype":"can_use_tool"}})),
            Incoming::ControlRequest { ref request_id, .. } if request_id == "abc"
        ));
        assert_eq!(
            classify(json!({"type":"control_cancel_request","request_id":"abc"})),
            Incoming::ControlCancel {
                request_id: "abc".into()
            }
        );
        assert_eq!(classify(json!({"type":"keep_alive"})), Incoming::KeepAlive);
    }

    #[test]
    fn init_frame() {
        let Incoming::Events(events) = classify(json!({
            "type":"system","subtype":"init","session_id":"s-1","model":"claude-x","cwd":"/w",
            "tools":["Bash","mcp__ops__ping"],"mcp_servers":[{"name":"ops","status":"connected"}]
        })) else {
            panic!()
        };
        let AgentEvent::Init(init) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(init.agent_session_id, "s-1");
        assert_eq!(init.tools, vec!["Bash", "mcp__ops__ping"]);
        assert_eq!(
            init.mcp_servers[0],
            McpServerStatus {
                name: "ops".into(),
                status: "connected".into()
            }
        );
    }

    #[test]
    fn assistant_blocks_share_the_message_id() {
        let Incoming::Events(events) = classify(json!({
            "type":"assistant","parent_tool_use_id":null,"session_id":"s",
            "message":{"id":"msg_1","model":"m","content":[
                {"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}},
                {"type":"text","text":"hi"}
            ]}
        })) else {
            panic!()
        };
        assert_eq!(events.len(), 2);
        let AgentEvent::Assistant(first) = &events[0] else {
            panic!()
        };
        assert_eq!(first.message_id, "msg_1");
        assert_eq!(
            first.block,
            ContentBlock::ToolUse {
                id: "toolu_1".into(),
                name: "Bash".into(),
                input: json!({"command":"ls"})
            }
        );
        let AgentEvent::Assistant(second) = &events[1] else {
            panic!()
        };
        assert_eq!(second.block, ContentBlock::Text("hi".into()));
    }

    #[test]
    fn synthetic_api_error_message_is_flagged() {
        let Incoming::Events(events) = classify(json!({
            "type":"assistant","error":"authentication_failed",
            "message":{"id":"x","model":"<synthetic>","content":[{"type":"text","text":"API Error: 401"}]}
        })) else {
            panic!()
        };
        let AgentEvent::Assistant(block) = &events[0] else {
            panic!()
        };
        assert_eq!(block.api_error.as_deref(), Some("authentication_failed"));
    }

    #[test]
    fn tool_results_and_plain_user_frames() {
        let Incoming::Events(events) = classify(json!({
            "type":"user","message":{"role":"user","content":[
                {"type":"tool_result","tool_use_id":"toolu_1","content":"done","is_error":false}
            ]}
        })) else {
            panic!()
        };
        assert!(
            matches!(&events[0], AgentEvent::ToolResult(r) if r.tool_use_id == "toolu_1" && !r.is_error && r.text == "done" && r.structured.is_none())
        );
        // A sub-agent's Bash result: the text the model read, the CLI's envelope beside it, and
        // the tool use the sub-agent works for.
        let Incoming::Events(events) = classify(json!({
            "type":"user","parent_tool_use_id":"toolu_task",
            "message":{"role":"user","content":[
                {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"a.txt"}],"is_error":false}
            ]},
            "tool_use_result":{"stdout":"a.txt","stderr":"","interrupted":false}
        })) else {
            panic!()
        };
        let AgentEvent::ToolResult(result) = &events[0] else {
            panic!()
        };
        assert_eq!(result.text, "a.txt");
        assert_eq!(
            result.structured,
            Some(json!({"stdout":"a.txt","stderr":"","interrupted":false}))
        );
        assert_eq!(result.parent_tool_use_id.as_deref(), Some("toolu_task"));
        let Incoming::Events(events) =
            classify(json!({"type":"user","message":{"content":"plain"}}))
        else {
            panic!()
        };
        assert!(matches!(events[0], AgentEvent::Other(_)));
    }

    #[test]
    fn result_frame() {
        let Incoming::Events(events) = classify(json!({
            "type":"result","subtype":"success","is_error":true,"api_error_status":401,
            "num_turns":2,"duration_ms":600,"total_cost_usd":0.0123,"session_id":"s-1",
            "usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":3},
            "permission_denials":[{"tool_name":"Bash","tool_use_id":"toolu_9","tool_input":{"command":"rm"}}],
            "terminal_reason":"completed",
            "modelUsage":{"claude-x":{"inputTokens":10,"outputTokens":5}}
        })) else {
            panic!()
        };
        let AgentEvent::TurnEnded(result) = &events[0] else {
            panic!()
        };
        assert!(result.is_error);
        assert_eq!(result.api_error_status, Some(401));
        assert_eq!(
            result.usage,
            TokenUsage {
                input_tokens: 10,
                output_tokens: 5,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: 3
            }
        );
        assert_eq!(result.permission_denials[0].tool_use_id, "toolu_9");
        assert_eq!(result.agent_session_id.as_deref(), Some("s-1"));
        assert!((result.total_cost_usd - 0.0123).abs() < 1e-12);
        assert_eq!(result.model.as_deref(), Some("claude-x"));
        // CLI 2.1.197 names the context-window variant in the key.
        let Incoming::Events(events) = classify(json!({
            "type":"result","subtype":"success","modelUsage":{"claude-x[1m]":{"inputTokens":1}}
        })) else {
            panic!()
        };
        let AgentEvent::TurnEnded(result) = &events[0] else {
            panic!()
        };
        assert_eq!(result.model.as_deref(), Some("claude-x"));
    }

    #[test]
    fn unknown_frames_are_kept() {
        let frame = json!({"type":"brand_new","x":1});
        assert_eq!(
            classify(frame.clone()),
            Incoming::Events(vec![AgentEvent::Other(frame)])
        );
        let retry = json!({"type":"system","subtype":"api_retry","attempt":1,"max_retries":2,"retry_delay_ms":500,"error_status":529});
        let Incoming::Events(events) = classify(retry) else {
            panic!()
        };
        assert!(matches!(&events[0], AgentEvent::ApiRetry(r) if r.error_status == Some(529)));
    }
}
