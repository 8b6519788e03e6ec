//! Scripted model behaviour, shared by the fake Anthropic API (for the real CLI) and the fake
//! `claude` binary, so one test scenario runs against both.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One reply of the fake model, or (fake CLI only) a fault to inject at that point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// End the turn with this text.
    Text { text: String },
    /// Ask for a tool; the next reply comes after its result.
    ToolUse {
        name: String,
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// Answer with this HTTP error status (the CLI retries, then gives up).
    ApiError { status: u16 },
    /// Fake CLI only: exit at once with this code.
    Crash { exit_code: i32 },
    /// Fake CLI only: print a line that is not JSON.
    Garbage,
    /// Fake CLI only: print one line of this many bytes.
    HugeLine { bytes: usize },
    /// Fake CLI only: stop answering.
    Hang,
    /// Fake CLI only: print `events` frames (tool use, tool result, text, in turn) without
    /// running anything, `interval_us` apart (0: as fast as it can), then end the turn. Each
    /// frame carries `bench_sent_ns`, the wall-clock time it was written.
    Flood {
        events: usize,
        #[serde(default)]
        interval_us: u64,
    },
}

impl Reply {
    #[must_use]
    pub fn text(text: &str) -> Self {
        Self::Text {
            text: text.to_owned(),
        }
    }

    #[must_use]
    pub fn tool(name: &str, input: Value) -> Self {
        Self::ToolUse {
            name: name.to_owned(),
            input,
            text: None,
        }
    }

    #[must_use]
    pub fn bash(command: &str) -> Self {
        Self::tool(
            "Bash",
            serde_json::json!({"command": command, "description": "scripted"}),
        )
    }
}

/// The replies of one conversation, in order. Reply `n` answers the model call that already
/// has `n` assistant messages in its conversation, so a conversation continued in a new
/// process (resume) picks up where it left off.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Script {
    /// Chosen when the conversation's first user text contains this marker.
    pub marker: String,
    pub replies: Vec<Reply>,
    /// Pause between streamed events, for slow-stream tests.
    #[serde(default)]
    pub event_delay_ms: u64,
}

impl Script {
    #[must_use]
    pub fn new(marker: &str, replies: Vec<Reply>) -> Self {
        Self {
            marker: marker.to_owned(),
            replies,
            event_delay_ms: 0,
        }
    }

    /// The reply for a conversation that has `assistant_turns` assistant messages so far; past
    /// the end of the script, a closing text.
    #[must_use]
    pub fn reply(&self, assistant_turns: usize) -> Reply {
        self.replies
            .get(assistant_turns)
            .cloned()
            .unwrap_or_else(|| Reply::text("Done."))
    }

    /// A main agent (`outer` marks its conversation) that hands work to the sub-agent
    /// `checker` (`inner` marks the sub-agent's), which runs `echo pod-a` and answers.
    #[must_use]
    pub fn delegation(outer: &str, inner: &str) -> [Self; 2] {
        let hand_over = Reply::tool(
            "Agent",
            serde_json::json!({
                "subagent_type": "checker",
                "description": "Check the pods",
                "prompt": format!("{inner}: list the pods"),
                // Newer CLIs start sub-agents in the background unless told otherwise.
                "run_in_background": false
            }),
        );
        [
            Self::new(outer, vec![hand_over, Reply::text("The checker is done.")]),
            Self::new(
                inner,
                vec![Reply::bash("echo pod-a"), Reply::text("pod-a is there.")],
            ),
        ]
    }
}

/// A Bash command that runs for `seconds` (and then fails: `timeout` exits with 124). Not a
/// plain `sleep`: newer CLIs (2.1.3xx) refuse a standalone `sleep` in the Bash tool ("Blocked:
/// standalone sleep …").
#[must_use]
pub fn long_running_command(seconds: u32) -> String {
    format!("timeout {seconds} tail -f /dev/null")
}

/// The command line of the process [`long_running_command`] keeps running.
pub const LONG_RUNNING_PROCESS: &str = "tail -f /dev/null";

/// The text of a conversation's first user message (all its text blocks).
#[must_use]
pub fn first_user_text(messages: &[Value]) -> String {
    messages
        .iter()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
        .unwrap_or_default()
}

/// Every text in a message's content (a string or an array of blocks).
#[must_use]
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// How many assistant messages a conversation holds.
#[must_use]
pub fn assistant_turns(messages: &[Value]) -> usize {
    messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .count()
}

/// Picks the script whose marker the conversation's first user text contains.
#[must_use]
pub fn choose<'a>(scripts: &'a [Script], messages: &[Value]) -> Option<&'a Script> {
    let first = first_user_text(messages);
    scripts.iter().find(|s| first.contains(&s.marker))
}
