//! Callbacks that record what the agent asked, in order, and answer as a test tells them.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use overseer_ports::agent::{
    HookEvent, HookHandler, HookKind, HookVerdict, McpTool, McpToolOutput, McpToolServer,
    PermissionHandler, PermissionRequest, PermissionVerdict,
};
use serde_json::{Value, json};

/// What happened, in order: `permission:Bash`, `pre:Bash`, `post:Bash`, `mcp:echo` …
#[derive(Clone, Debug, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    pub fn push(&self, entry: String) {
        self.0.lock().unwrap().push(entry);
    }

    #[must_use]
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    #[must_use]
    pub fn contains(&self, entry: &str) -> bool {
        self.entries().iter().any(|e| e == entry)
    }
}

/// Answers every permission request with one verdict and records the requests.
#[derive(Debug)]
pub struct RecordingPermissions {
    pub verdict: PermissionVerdict,
    pub log: CallLog,
    pub requests: Mutex<Vec<PermissionRequest>>,
}

impl RecordingPermissions {
    #[must_use]
    pub fn new(verdict: PermissionVerdict, log: CallLog) -> Arc<Self> {
        Arc::new(Self {
            verdict,
            log,
            requests: Mutex::new(Vec::new()),
        })
    }

    #[must_use]
    pub fn allow_all(log: CallLog) -> Arc<Self> {
        Self::new(
            PermissionVerdict::Allow {
                updated_input: None,
            },
            log,
        )
    }
}

#[async_trait]
impl PermissionHandler for RecordingPermissions {
    async fn decide(&self, request: PermissionRequest) -> PermissionVerdict {
        self.log.push(format!("permission:{}", request.tool_name));
        self.requests.lock().unwrap().push(request);
        self.verdict.clone()
    }
}

/// Records every hook and answers PreToolUse with `pre_verdict` (Continue otherwise).
#[derive(Debug)]
pub struct RecordingHooks {
    pub pre_verdict: HookVerdict,
    pub log: CallLog,
    pub events: Mutex<Vec<HookEvent>>,
    /// The hooks it registers.
    pub kinds: &'static [HookKind],
}

impl RecordingHooks {
    /// The tool hooks only.
    #[must_use]
    pub fn new(pre_verdict: HookVerdict, log: CallLog) -> Arc<Self> {
        Arc::new(Self {
            pre_verdict,
            log,
            events: Mutex::new(Vec::new()),
            kinds: &[HookKind::PreToolUse, HookKind::PostToolUse],
        })
    }

    /// Every hook; tools go on.
    #[must_use]
    pub fn all(log: CallLog) -> Arc<Self> {
        Arc::new(Self {
            pre_verdict: HookVerdict::Continue,
            log,
            events: Mutex::new(Vec::new()),
            kinds: HookKind::ALL,
        })
    }
}

#[async_trait]
impl HookHandler for RecordingHooks {
    async fn on_hook(&self, event: HookEvent) -> HookVerdict {
        let (label, verdict) = match event.kind {
            HookKind::PreToolUse => ("pre", self.pre_verdict.clone()),
            HookKind::PostToolUse => ("post", HookVerdict::Continue),
            other => (other.as_str(), HookVerdict::Continue),
        };
        if event.kind.is_tool_hook() {
            self.log.push(format!("{label}:{}", event.tool_name));
        } else {
            self.log.push(label.to_owned());
        }
        self.events.lock().unwrap().push(event);
        verdict
    }

    fn kinds(&self) -> &'static [HookKind] {
        self.kinds
    }
}

/// An in-process MCP server with one tool, `echo`, that answers `echo: <text>`.
#[derive(Debug, Default)]
pub struct EchoServer {
    pub calls: Mutex<Vec<Value>>,
    pub log: CallLog,
}

#[async_trait]
impl McpToolServer for EchoServer {
    fn tools(&self) -> Vec<McpTool> {
        vec![McpTool {
            name: "echo".to_owned(),
            description: "Echoes its text back".to_owned(),
            input_schema: json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
        }]
    }

    async fn call(&self, tool: &str, arguments: Value) -> McpToolOutput {
        self.log.push(format!("mcp:{tool}"));
        self.calls.lock().unwrap().push(arguments.clone());
        match arguments.get("text").and_then(Value::as_str) {
            Some(text) if tool == "echo" => McpToolOutput {
                text: format!("echo: {text}"),
                is_error: false,
            },
            _ => McpToolOutput {
                text: format!("bad call to {tool}"),
                is_error: true,
            },
        }
    }
}
