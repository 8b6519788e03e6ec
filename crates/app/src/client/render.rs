//! What the client prints: tables and transcripts for people, JSON lines for scripts.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use serde_json::Value;

/// Cuts `text` to `max` characters, marking the cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max).collect();
    short.push('…');
    short
}

/// A table of `rows` under `headers`.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new();
    table
        .load_style(UTF8_BORDERS_ONLY)
        .set_header(headers.to_vec());
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

/// A string field of `value`, or `-`.
pub fn text(value: &Value, field: &str) -> String {
    match &value[field] {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// The lines a person reads for one message (`message_type`, `role`, `blocks`, `usage`).
pub fn message_lines(message: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    let role = message["role"].as_str().unwrap_or_default();
    for block in message["blocks"].as_array().into_iter().flatten() {
        match block["type"].as_str().unwrap_or_default() {
            "text" if role == "user" => {
                lines.push(format!("> {}", block["text"].as_str().unwrap_or_default()))
            }
            "text" => lines.push(block["text"].as_str().unwrap_or_default().to_owned()),
            "thinking" => lines.push(format!(
                "(thinking) {}",
                cut(block["text"].as_str().unwrap_or_default(), 200)
            )),
            "tool_use" => lines.push(format!(
                "⚙ {} {}",
                block["name"].as_str().unwrap_or_default(),
                cut(&block["input"].to_string(), 300)
            )),
            "tool_result" => {
                let content = block["content"].as_str().unwrap_or_default();
                let marker = if block["is_error"] == true {
                    "✗"
                } else {
                    "↳"
                };
                for (i, line) in content.lines().take(20).enumerate() {
                    lines.push(format!("  {} {line}", if i == 0 { marker } else { " " }));
                }
            }
            "error" => lines.push(format!("✗ {}", block["text"].as_str().unwrap_or_default())),
            _ => {}
        }
    }
    if message["message_type"] == "result" {
        let usage = &message["usage"];
        lines.push(format!(
            "— turn done ({} in / {} out tokens)",
            usage["input_tokens"].as_u64().unwrap_or(0),
            usage["output_tokens"].as_u64().unwrap_or(0)
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_tool_call_and_its_output_read_as_lines() {
        let call = json!({"role": "assistant", "message_type": "assistant", "blocks": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "echo hi"}}]});
        assert_eq!(
            message_lines(&call),
            ["Checking.", r#"⚙ Bash {"command":"echo hi"}"#]
        );
        let result = json!({"role": "user", "message_type": "user", "blocks": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "hi\nthere", "is_error": false}]});
        assert_eq!(message_lines(&result), ["  ↳ hi", "    there"]);
        let done = json!({"role": "assistant", "message_type": "result", "blocks": [],
            "usage": {"input_tokens": 3, "output_tokens": 4}});
        assert_eq!(message_lines(&done), ["— turn done (3 in / 4 out tokens)"]);
    }

    #[test]
    fn long_text_is_cut_with_a_mark() {
        assert_eq!(cut("abcdef", 3), "abc…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
