//! What every tool server here shares: describing tools, reading arguments, answering.

use overseer_ports::agent::{McpTool, McpToolOutput};
use serde_json::{Map, Value, json};

/// A tool's answer.
pub(crate) fn answer(text: impl Into<String>) -> McpToolOutput {
    McpToolOutput {
        text: text.into(),
        is_error: false,
    }
}

/// A tool error, for the model to read.
pub(crate) fn refusal(text: impl Into<String>) -> McpToolOutput {
    McpToolOutput {
        text: text.into(),
        is_error: true,
    }
}

/// Turns a tool's result into its output.
pub(crate) fn output(result: Result<String, String>) -> McpToolOutput {
    result.map_or_else(refusal, answer)
}

/// A tool taking string arguments: `(name, description, required)` each.
pub(crate) fn tool(name: &str, description: &str, arguments: &[(&str, &str, bool)]) -> McpTool {
    let properties: Map<String, Value> = arguments
        .iter()
        .map(|(arg, about, _)| {
            (
                (*arg).to_owned(),
                json!({"type": "string", "description": about}),
            )
        })
        .collect();
    let required: Vec<&str> = arguments
        .iter()
        .filter(|(_, _, required)| *required)
        .map(|(arg, _, _)| *arg)
        .collect();
    McpTool {
        name: name.to_owned(),
        description: description.to_owned(),
        input_schema: json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        }),
    }
}

/// A string argument, if given and not empty.
///
/// # Errors
/// When the argument is there but not a string.
pub(crate) fn optional_text(arguments: &Value, name: &str) -> Result<Option<String>, String> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(format!("'{name}' must be a string, not {other}")),
    }
}

/// A string argument the tool cannot do without.
///
/// # Errors
/// When it is missing, empty or not a string.
pub(crate) fn required_text(arguments: &Value, name: &str) -> Result<String, String> {
    optional_text(arguments, name)?.ok_or_else(|| format!("'{name}' is required"))
}

/// `text` cut to at most `max_bytes` on a character boundary, saying so when it was cut.
pub(crate) fn excerpt(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

/// Settings keys a server does not know are refused: a typo must not silently keep a default.
///
/// # Errors
/// Names the first unknown key and the known ones.
pub(crate) fn known_keys(settings: &Map<String, Value>, known: &[&str]) -> Result<(), String> {
    match settings.keys().find(|key| !known.contains(&key.as_str())) {
        None => Ok(()),
        Some(key) if known.is_empty() => Err(format!("'{key}': this server takes no settings")),
        Some(key) => Err(format!(
            "'{key}' is not a setting (known: {})",
            known.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_read_strictly() {
        let args = json!({"a": "x", "b": " ", "c": 3});
        assert_eq!(optional_text(&args, "a"), Ok(Some("x".to_owned())));
        assert_eq!(optional_text(&args, "b"), Ok(None));
        assert_eq!(optional_text(&args, "missing"), Ok(None));
        assert!(optional_text(&args, "c").unwrap_err().contains("'c'"));
        assert!(required_text(&args, "b").unwrap_err().contains("required"));
    }

    #[test]
    fn excerpts_cut_on_a_character_boundary() {
        assert_eq!(excerpt("short", 10), "short");
        let cut = excerpt("ééé", 3);
        assert!(cut.starts_with('é') && !cut.starts_with("éé"), "{cut}");
        assert!(cut.ends_with("(6 bytes in all)"), "{cut}");
    }

    #[test]
    fn unknown_settings_are_named() {
        let settings = json!({"contxt": "prod"});
        let settings = settings.as_object().unwrap();
        let err = known_keys(settings, &["context", "kubeconfig"]).unwrap_err();
        assert!(err.contains("'contxt'") && err.contains("context, kubeconfig"));
        assert!(
            known_keys(settings, &[])
                .unwrap_err()
                .contains("no settings")
        );
        assert_eq!(known_keys(&Map::new(), &[]), Ok(()));
    }

    #[test]
    fn schemas_list_required_arguments() {
        let t = tool(
            "get_pods",
            "d",
            &[("namespace", "n", true), ("label_selector", "l", false)],
        );
        assert_eq!(t.input_schema["required"], json!(["namespace"]));
        assert_eq!(
            t.input_schema["properties"]["label_selector"]["type"],
            "string"
        );
    }
}
