//! What a message says, in typed blocks that do not depend on the agent's frame format.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One block of a message's content. The JSON form is tagged by `type`:
/// `{"type": "text", "text": …}`, `{"type": "thinking", "text": …}`,
/// `{"type": "tool_use", "id", "name", "input"}`,
/// `{"type": "tool_result", "tool_use_id", "content", "is_error"}`,
/// `{"type": "error", "text": …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Text for the reader (a person's message, or the model's answer).
    Text {
        /// The text.
        text: String,
    },
    /// The model's reasoning, when shown.
    Thinking {
        /// The reasoning.
        text: String,
    },
    /// The model asks to run a tool.
    ToolUse {
        /// The tool use's id (`toolu_…`); the result refers to it.
        id: String,
        /// The tool's name.
        name: String,
        /// Its input.
        input: Value,
    },
    /// A tool's result, as the model saw it.
    ToolResult {
        /// The tool use it answers.
        tool_use_id: String,
        /// The text the model was given.
        content: String,
        /// Whether the tool failed (or was refused).
        is_error: bool,
    },
    /// The turn or the agent failed: why, for people.
    Error {
        /// The reason.
        text: String,
    },
}

/// Token counts, of one turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Tokens read, not counting the cache.
    pub input_tokens: u64,
    /// Tokens written.
    pub output_tokens: u64,
    /// Tokens written to the prompt cache.
    pub cache_creation_input_tokens: u64,
    /// Tokens read from the prompt cache.
    pub cache_read_input_tokens: u64,
}

/// A tool result's content as text: a string as it is; a list of blocks as their texts, one per
/// line (an image stands as `[image]`); anything else as JSON.
#[must_use]
pub fn tool_result_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(blocks) => blocks
            .iter()
            .map(
                |b| match (b.get("type").and_then(Value::as_str), b.get("text")) {
                    (_, Some(Value::String(text))) => text.clone(),
                    (Some("image"), _) => "[image]".to_owned(),
                    _ => b.to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_have_their_documented_json_form() {
        let blocks = vec![
            ContentBlock::Text { text: "hi".into() },
            ContentBlock::ToolUse {
                id: "toolu_1".into(),
                name: "Bash".into(),
                input: json!({"command": "ls"}),
            },
            ContentBlock::ToolResult {
                tool_use_id: "toolu_1".into(),
                content: "a.txt".into(),
                is_error: false,
            },
            ContentBlock::Error {
                text: "gone".into(),
            },
        ];
        let value = serde_json::to_value(&blocks).unwrap();
        assert_eq!(
            value,
            json!([
                {"type": "text", "text": "hi"},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt", "is_error": false},
                {"type": "error", "text": "gone"},
            ])
        );
        let back: Vec<ContentBlock> = serde_json::from_value(value).unwrap();
        assert_eq!(back, blocks);
    }

    #[test]
    fn tool_result_text_is_what_the_model_read() {
        assert_eq!(tool_result_text(&json!("plain")), "plain");
        assert_eq!(
            tool_result_text(
                &json!([{"type": "text", "text": "a"}, {"type": "image", "source": {}}, {"type": "text", "text": "b"}])
            ),
            "a\n[image]\nb"
        );
        assert_eq!(tool_result_text(&Value::Null), "");
        assert_eq!(tool_result_text(&json!({"x": 1})), r#"{"x":1}"#);
    }
}
