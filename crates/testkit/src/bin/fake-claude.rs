//! A fake `claude` CLI for fast, deterministic tests. It speaks the stream-json control
//! protocol (agent-protocol.md) and plays a [`Script`] instead of calling a model: tool uses go
//! through PreToolUse hooks, `can_use_tool`, a real tool run (Bash via `sh -c`, in-process MCP
//! tools via `mcp_message`) and PostToolUse hooks, like the real CLI.
//!
//! Environment: `FAKE_CLAUDE_SCRIPTS` (JSON array of scripts), `FAKE_CLAUDE_LOG` (JSONL file
//! receiving each conversation the "model" is asked about), `FAKE_CLAUDE_STATE_DIR` (where
//! conversations are kept for `--resume`; default `<cwd>/.fake-claude`).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use overseer_testkit::script::{Reply, Script, assistant_turns, choose};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot, watch};

#[derive(Default)]
struct Args {
    resume: Option<String>,
    permission_prompts: bool,
    allowed_tools: Vec<String>,
    sdk_servers: Vec<String>,
    model: Option<String>,
}

fn parse_args() -> Args {
    let mut args = Args::default();
    let mut raw = std::env::args().skip(1);
    while let Some(arg) = raw.next() {
        if let Some(id) = arg.strip_prefix("--resume=") {
            args.resume = Some(id.to_owned());
            continue;
        }
        match arg.as_str() {
            "--permission-prompt-tool" => {
                args.permission_prompts = raw.next().as_deref() == Some("stdio")
            }
            "--allowedTools" => {
                args.allowed_tools = raw
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::to_owned)
                    .collect();
            }
            "--model" => args.model = raw.next(),
            "--mcp-config" => {
                let config: Value =
                    serde_json::from_str(&raw.next().unwrap_or_default()).unwrap_or(Value::Null);
                if let Some(servers) = config.get("mcpServers").and_then(Value::as_object) {
                    args.sdk_servers = servers
                        .iter()
                        .filter(|(_, c)| c.get("type").and_then(Value::as_str) == Some("sdk"))
                        .map(|(name, _)| name.clone())
                        .collect();
                }
            }
            _ => {}
        }
    }
    args
}

/// Writes frames to stdout, one JSON object per line.
#[derive(Clone)]
struct Out(mpsc::UnboundedSender<String>);

impl Out {
    fn frame(&self, value: &Value) {
        let _ = self.0.send(value.to_string());
    }
    fn raw(&self, line: String) {
        let _ = self.0.send(line);
    }
}

struct Host {
    out: Out,
    /// Set at EOF: the host can no longer answer.
    closed: std::sync::atomic::AtomicBool,
    pending: Mutex<HashMap<String, oneshot::Sender<Value>>>,
    next: Mutex<u64>,
}

impl Host {
    /// Sends a control request to the host and waits for its `response` object (or error).
    async fn ask(&self, request: Value) -> Result<Value, String> {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err("permission stream closed".to_owned());
        }
        let id = {
            let mut next = self.next.lock().unwrap();
            *next += 1;
            format!("cli_req_{next}")
        };
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id.clone(), tx);
        self.out
            .frame(&json!({"type": "control_request", "request_id": id, "request": request}));
        let response = rx
            .await
            .map_err(|_| "permission stream closed".to_owned())?;
        if response.get("subtype").and_then(Value::as_str) == Some("success") {
            Ok(response.get("response").cloned().unwrap_or(Value::Null))
        } else {
            Err(response
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_owned())
        }
    }
}

struct Conversation {
    session_id: String,
    messages: Vec<Value>,
    state_file: PathBuf,
}

impl Conversation {
    fn save(&self) {
        std::fs::create_dir_all(self.state_file.parent().unwrap()).ok();
        std::fs::write(
            &self.state_file,
            serde_json::to_vec(&self.messages).unwrap(),
        )
        .ok();
    }
}

struct Turn {
    host: Arc<Host>,
    args: Arc<Args>,
    scripts: Arc<Vec<Script>>,
    hooks: bool,
    cost: Arc<Mutex<f64>>,
}

enum ToolOutcome {
    Ran {
        output: String,
        is_error: bool,
        response: Value,
    },
    Denied {
        message: String,
        interrupt: bool,
    },
}

impl Turn {
    fn log_model_call(messages: &[Value]) {
        let Ok(path) = std::env::var("FAKE_CLAUDE_LOG") else {
            return;
        };
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(file, "{}", json!({ "messages": messages }));
        }
    }

    async fn hook(
        &self,
        event: &str,
        tool: &str,
        input: &Value,
        id: &str,
        response: Option<&Value>,
    ) -> Value {
        if !self.hooks {
            return json!({});
        }
        let callback = if event == "PreToolUse" {
            "hook_pre"
        } else {
            "hook_post"
        };
        let mut hook_input = json!({"hook_event_name": event, "tool_name": tool, "tool_input": input, "tool_use_id": id});
        if let Some(response) = response {
            hook_input["tool_response"] = response.clone();
            hook_input["duration_ms"] = json!(1);
        }
        self.host
            .ask(json!({"subtype": "hook_callback", "callback_id": callback, "input": hook_input, "tool_use_id": id}))
            .await
            .unwrap_or_else(|_| json!({}))
    }

    async fn use_tool(
        &self,
        name: &str,
        mut input: Value,
        id: &str,
        cancel: &mut watch::Receiver<bool>,
    ) -> ToolOutcome {
        let pre = self.hook("PreToolUse", name, &input, id, None).await;
        let specific = pre
            .get("hookSpecificOutput")
            .cloned()
            .unwrap_or(Value::Null);
        match specific.get("permissionDecision").and_then(Value::as_str) {
            Some("deny") => {
                let reason = specific
                    .get("permissionDecisionReason")
                    .and_then(Value::as_str)
                    .unwrap_or("denied by hook");
                return ToolOutcome::Denied {
                    message: reason.to_owned(),
                    interrupt: false,
                };
            }
            Some("allow") => {
                if let Some(updated) = specific.get("updatedInput") {
                    input = updated.clone();
                }
            }
            _ => {}
        }
        let pre_allowed = self.args.allowed_tools.iter().any(|t| t == name);
        if self.args.permission_prompts && !pre_allowed {
            let request = json!({"subtype": "can_use_tool", "tool_name": name, "display_name": name,
                "input": input, "tool_use_id": id, "permission_suggestions": []});
            match self.host.ask(request).await {
                Ok(answer) if answer.get("behavior").and_then(Value::as_str) == Some("allow") => {
                    input = answer.get("updatedInput").cloned().unwrap_or(input);
                }
                Ok(answer) => {
                    return ToolOutcome::Denied {
                        message: answer
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("denied")
                            .to_owned(),
                        interrupt: answer
                            .get("interrupt")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    };
                }
                Err(error) => {
                    return ToolOutcome::Denied {
                        message: error,
                        interrupt: false,
                    };
                }
            }
        }
        let outcome = self.run_tool(name, &input, cancel).await;
        if let ToolOutcome::Ran { response, .. } = &outcome {
            self.hook("PostToolUse", name, &input, id, Some(response))
                .await;
        }
        outcome
    }

    async fn run_tool(
        &self,
        name: &str,
        input: &Value,
        cancel: &mut watch::Receiver<bool>,
    ) -> ToolOutcome {
        if name == "Bash" {
            let command = input
                .get("command")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mut child = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(command)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn sh");
            let mut stdout = child.stdout.take().unwrap();
            let collect = async move {
                let mut text = String::new();
                tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut text)
                    .await
                    .ok();
                text
            };
            tokio::select! {
                (status, stdout) = async { let out = collect.await; (child.wait().await, out) } => {
                    let ok = status.map(|s| s.success()).unwrap_or(false);
                    let response = json!({"stdout": stdout, "stderr": "", "interrupted": false});
                    ToolOutcome::Ran { output: stdout, is_error: !ok, response }
                }
                _ = cancel.wait_for(|c| *c) => {
                    ToolOutcome::Ran { output: "interrupted".into(), is_error: true, response: json!({"interrupted": true}) }
                }
            }
        } else if let Some(rest) = name.strip_prefix("mcp__") {
            let (server, tool) = rest.split_once("__").unwrap_or((rest, ""));
            let message = json!({"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {"name": tool, "arguments": input}});
            match self
                .host
                .ask(json!({"subtype": "mcp_message", "server_name": server, "message": message}))
                .await
            {
                Ok(reply) => {
                    let result = reply
                        .pointer("/mcp_response/result")
                        .cloned()
                        .unwrap_or(Value::Null);
                    let text = result
                        .pointer("/content/0/text")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let is_error = result
                        .get("isError")
                        .and_then(Value::as_bool)
                        .unwrap_or(true);
                    ToolOutcome::Ran {
                        output: text,
                        is_error,
                        response: result,
                    }
                }
                Err(error) => ToolOutcome::Ran {
                    output: error,
                    is_error: true,
                    response: Value::Null,
                },
            }
        } else {
            ToolOutcome::Ran {
                output: format!("unknown tool {name}"),
                is_error: true,
                response: Value::Null,
            }
        }
    }

    /// Plays one user turn; returns whether its result was an error.
    async fn play(
        &self,
        conversation: &mut Conversation,
        text: String,
        mut cancel: watch::Receiver<bool>,
    ) -> bool {
        let out = &self.host.out;
        let started = Instant::now();
        conversation
            .messages
            .push(json!({"role": "user", "content": text}));
        let mut tools = vec!["Bash".to_owned(), "Write".to_owned()];
        tools.extend(
            self.args
                .sdk_servers
                .iter()
                .map(|s| format!("mcp__{s}__echo")),
        );
        let servers: Vec<Value> = self
            .args
            .sdk_servers
            .iter()
            .map(|s| json!({"name": s, "status": "connected"}))
            .collect();
        out.frame(&json!({"type": "system", "subtype": "init", "session_id": conversation.session_id,
            "cwd": std::env::current_dir().unwrap(), "tools": tools, "mcp_servers": servers,
            "model": self.args.model.clone().unwrap_or_else(|| "fake-model".into()), "permissionMode": "default"}));
        let mut calls = 0_u64;
        let mut denials = Vec::new();
        let (subtype, is_error, result_text, reason) = loop {
            Self::log_model_call(&conversation.messages);
            calls += 1;
            *self.cost.lock().unwrap() += 0.001;
            let reply = choose(&self.scripts, &conversation.messages).map_or_else(
                || Reply::text("OK"),
                |s| s.reply(assistant_turns(&conversation.messages)),
            );
            let message_id = format!("msg_fake_{}", uuid::Uuid::now_v7().simple());
            let assistant = |block: Value| {
                json!({"type": "assistant", "parent_tool_use_id": null,
                "session_id": conversation.session_id,
                "message": {"id": message_id, "model": "fake-model", "role": "assistant", "content": [block],
                    "usage": {"input_tokens": 12, "output_tokens": 7}}})
            };
            match reply {
                Reply::Text { text } => {
                    let block = json!({"type": "text", "text": text});
                    conversation
                        .messages
                        .push(json!({"role": "assistant", "content": [block.clone()]}));
                    out.frame(&assistant(block));
                    break ("success", false, Some(text), "completed");
                }
                Reply::ToolUse { name, input, .. } => {
                    let tool_use_id = format!("toolu_{}", uuid::Uuid::now_v7().simple());
                    let block = json!({"type": "tool_use", "id": tool_use_id, "name": name, "input": input});
                    conversation
                        .messages
                        .push(json!({"role": "assistant", "content": [block.clone()]}));
                    out.frame(&assistant(block));
                    let (content, tool_error, stop) = match self
                        .use_tool(&name, input.clone(), &tool_use_id, &mut cancel)
                        .await
                    {
                        ToolOutcome::Ran {
                            output, is_error, ..
                        } => (output, is_error, false),
                        ToolOutcome::Denied { message, interrupt } => {
                            denials.push(json!({"tool_name": name, "tool_use_id": tool_use_id, "tool_input": input}));
                            (message, true, interrupt)
                        }
                    };
                    let result_block = json!({"type": "tool_result", "tool_use_id": tool_use_id, "content": content, "is_error": tool_error});
                    conversation
                        .messages
                        .push(json!({"role": "user", "content": [result_block.clone()]}));
                    out.frame(&json!({"type": "user", "message": {"role": "user", "content": [result_block]},
                        "session_id": conversation.session_id}));
                    if stop || *cancel.borrow() {
                        break ("error_during_execution", true, None, "aborted_tools");
                    }
                }
                Reply::ApiError { status } => {
                    out.frame(&json!({"type": "assistant", "error": "api_error", "session_id": conversation.session_id,
                        "message": {"id": message_id, "model": "<synthetic>", "role": "assistant",
                            "content": [{"type": "text", "text": format!("API Error: {status}")}]}}));
                    out.frame(&json!({"type": "result", "subtype": "success", "is_error": true, "api_error_status": status,
                        "result": format!("API Error: {status}"), "session_id": conversation.session_id,
                        "num_turns": calls, "duration_ms": 1, "total_cost_usd": *self.cost.lock().unwrap(),
                        "usage": {"input_tokens": 0, "output_tokens": 0}, "permission_denials": []}));
                    conversation.save();
                    return true;
                }
                Reply::Crash { exit_code } => {
                    eprintln!("fake-claude: scripted crash");
                    std::process::exit(exit_code);
                }
                Reply::Garbage => {
                    out.raw("this is not JSON".into());
                    std::future::pending::<()>().await;
                }
                Reply::HugeLine { bytes } => {
                    out.raw(json!({"type": "assistant", "padding": "x".repeat(bytes)}).to_string());
                    std::future::pending::<()>().await;
                }
                Reply::Hang => std::future::pending::<()>().await,
                Reply::Flood {
                    events,
                    interval_us,
                } => {
                    flood(out, &conversation.session_id, events, interval_us).await;
                    // Counts as the model's answer, so a next turn plays the next reply.
                    conversation.messages.push(
                        json!({"role": "assistant", "content": [{"type": "text", "text": "flooded"}]}),
                    );
                    break ("success", false, Some("flooded".to_owned()), "completed");
                }
            }
        };
        conversation.save();
        out.frame(&json!({"type": "result", "subtype": subtype, "is_error": is_error, "result": result_text,
            "session_id": conversation.session_id, "num_turns": calls,
            "duration_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(0),
            "total_cost_usd": *self.cost.lock().unwrap(),
            "usage": {"input_tokens": 12 * calls, "output_tokens": 7 * calls, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
            "permission_denials": denials, "terminal_reason": reason,
            "modelUsage": {"fake-model": {"inputTokens": 12 * calls, "outputTokens": 7 * calls}}}));
        is_error
    }
}

/// Nanoseconds since the Unix epoch: the benchmark's subscribers compare it with their own clock.
fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// `Reply::Flood`: tool use, tool result, text, in turn, each stamped with when it was written.
async fn flood(out: &Out, session_id: &str, events: usize, interval_us: u64) {
    let mut tool_use_id = String::new();
    for n in 0..events {
        let message_id = format!("msg_flood_{n}");
        let assistant = |block: Value| {
            json!({"type": "assistant", "parent_tool_use_id": null, "session_id": session_id,
                "bench_sent_ns": now_ns(),
                "message": {"id": message_id, "model": "fake-model", "role": "assistant", "content": [block],
                    "usage": {"input_tokens": 1, "output_tokens": 1}}})
        };
        let frame = match n % 3 {
            0 => {
                tool_use_id = format!("toolu_flood_{n}");
                assistant(
                    json!({"type": "tool_use", "id": tool_use_id, "name": "Bash",
                    "input": {"command": format!("echo {n}")}}),
                )
            }
            1 => json!({"type": "user", "session_id": session_id, "bench_sent_ns": now_ns(),
                "message": {"role": "user", "content": [{"type": "tool_result",
                    "tool_use_id": tool_use_id, "content": format!("{n}"), "is_error": false}]}}),
            _ => assistant(json!({"type": "text", "text": format!("event {n}")})),
        };
        out.frame(&frame);
        if interval_us > 0 {
            tokio::time::sleep(std::time::Duration::from_micros(interval_us)).await;
        } else if n % 256 == 0 {
            // Let the writer task drain the queue now and then.
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("0.0.0 (fake Claude Code)");
        return;
    }
    let args = Arc::new(parse_args());
    let scripts: Arc<Vec<Script>> = Arc::new(
        std::env::var("FAKE_CLAUDE_SCRIPTS")
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
    );
    let state_dir = std::env::var("FAKE_CLAUDE_STATE_DIR").map_or_else(
        |_| std::env::current_dir().unwrap().join(".fake-claude"),
        PathBuf::from,
    );
    let (line_tx, mut line_rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        // Buffered, flushed whenever no further line is waiting: a lone frame goes out at
        // once, a flood goes out in large writes (as the real CLI's stream does).
        let mut stdout = tokio::io::BufWriter::with_capacity(64 * 1024, tokio::io::stdout());
        while let Some(line) = line_rx.recv().await {
            if stdout.write_all(line.as_bytes()).await.is_err()
                || stdout.write_all(b"\n").await.is_err()
            {
                break;
            }
            if line_rx.is_empty() && stdout.flush().await.is_err() {
                break;
            }
        }
    });
    let out = Out(line_tx);
    let session_id = args
        .resume
        .clone()
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let state_file = state_dir.join(format!("{session_id}.json"));
    let messages = if args.resume.is_some() {
        match std::fs::read(&state_file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => {
                eprintln!("No conversation found with session ID: {session_id}");
                out.frame(
                    &json!({"type": "result", "subtype": "error_during_execution", "is_error": true,
                    "session_id": session_id, "errors": ["No conversation found"]}),
                );
                drop(out);
                let _ = writer.await;
                std::process::exit(1);
            }
        }
    } else {
        Vec::new()
    };
    let conversation = Arc::new(tokio::sync::Mutex::new(Conversation {
        session_id,
        messages,
        state_file,
    }));
    let host = Arc::new(Host {
        out: out.clone(),
        closed: std::sync::atomic::AtomicBool::new(false),
        pending: Mutex::new(HashMap::new()),
        next: Mutex::new(0),
    });
    let mut hooks = false;
    let cost = Arc::new(Mutex::new(0.0));
    let mut current: Option<(tokio::task::JoinHandle<bool>, watch::Sender<bool>)> = None;
    let mut last_error = false;
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = stdin.next_line().await {
        let Ok(frame) = serde_json::from_str::<Value>(&line) else {
            eprintln!("fake-claude: invalid JSON on stdin");
            std::process::exit(1);
        };
        match frame.get("type").and_then(Value::as_str) {
            Some("control_response") => {
                let response = frame.get("response").cloned().unwrap_or(Value::Null);
                let id = response
                    .get("request_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if let Some(tx) = host.pending.lock().unwrap().remove(&id) {
                    let _ = tx.send(response);
                }
            }
            Some("control_request") => {
                let id = frame.get("request_id").cloned().unwrap_or(Value::Null);
                let request = frame.get("request").cloned().unwrap_or(Value::Null);
                let reply = |body: Value| json!({"type": "control_response", "response": {"subtype": "success", "request_id": id, "response": body}});
                match request.get("subtype").and_then(Value::as_str) {
                    Some("initialize") => {
                        hooks = !request.get("hooks").is_none_or(Value::is_null);
                        // The MCP handshake happens before our reply, as with the real CLI.
                        let (host, out, servers) = (host.clone(), out.clone(), args.sdk_servers.clone());
                        let id = id.clone();
                        tokio::spawn(async move {
                            for server in servers {
                                for (n, method) in ["initialize", "notifications/initialized", "tools/list"].iter().enumerate() {
                                    let mut message = json!({"jsonrpc": "2.0", "method": method, "params": {"protocolVersion": "2025-06-18"}});
                                    if *method != "notifications/initialized" {
                                        message["id"] = json!(n);
                                    }
                                    let _ = host.ask(json!({"subtype": "mcp_message", "server_name": server, "message": message})).await;
                                }
                            }
                            out.frame(&json!({"type": "control_response", "response": {"subtype": "success", "request_id": id,
                                "response": {"commands": [], "agents": [], "models": [], "pid": std::process::id()}}}));
                        });
                    }
                    Some("interrupt") => {
                        if let Some((_, cancel)) = &current {
                            let _ = cancel.send(true);
                        }
                        out.frame(&reply(json!({})));
                    }
                    Some("set_permission_mode" | "set_model") => out.frame(&reply(json!({}))),
                    other => out.frame(&json!({"type": "control_response", "response": {"subtype": "error", "request_id": id,
                        "error": format!("Unsupported control request subtype: {}", other.unwrap_or("?"))}})),
                }
            }
            Some("user") => {
                if let Some((handle, _)) = current.take() {
                    last_error = handle.await.unwrap_or(true);
                }
                let text = overseer_testkit::script::content_text(
                    frame.pointer("/message/content").unwrap_or(&Value::Null),
                );
                let (cancel_tx, cancel_rx) = watch::channel(false);
                let turn = Turn {
                    host: host.clone(),
                    args: args.clone(),
                    scripts: scripts.clone(),
                    hooks,
                    cost: cost.clone(),
                };
                let conversation = conversation.clone();
                let handle = tokio::spawn(async move {
                    let mut conversation = conversation.lock().await;
                    turn.play(&mut conversation, text, cancel_rx).await
                });
                current = Some((handle, cancel_tx));
            }
            _ => {}
        }
    }
    // EOF: pending and later questions to the host fail (the tool is denied), the current
    // turn finishes, then the process exits like the CLI does.
    host.closed
        .store(true, std::sync::atomic::Ordering::Release);
    host.pending.lock().unwrap().clear();
    if let Some((handle, _)) = current.take() {
        last_error = handle.await.unwrap_or(true);
    }
    drop(out);
    drop(host);
    let _ = writer.await;
    std::process::exit(i32::from(last_error));
}
