//! Sub-agents a task defines for its agent (the CLI's `--agents`).

use serde::{Deserialize, Serialize};

use crate::agent_values::{ModelName, SystemPrompt, ToolPattern};
use crate::validation::{ValidationError, check_text, validated_string};

const MAX_DESCRIPTION_CHARS: usize = 1_024;

validated_string!(
    /// A sub-agent's name: 1 to 64 lowercase letters, digits and `-`, starting with a letter.
    SubagentName,
    |value| {
        let mut chars = value.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && value.len() <= 64;
        if ok {
            Ok(())
        } else {
            Err(ValidationError::new(
                "agents",
                format!("'{value}': a name is 1 to 64 of a-z, 0-9 and '-', starting with a letter"),
            ))
        }
    }
);

validated_string!(
    /// When the main agent should hand work to this sub-agent: 1 to 1,024 characters.
    SubagentDescription,
    |value| check_text("description", value, MAX_DESCRIPTION_CHARS)
);

/// One sub-agent: when to use it, its instructions, and optionally its tools and model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subagent {
    /// When the main agent should use it.
    pub description: SubagentDescription,
    /// Its system prompt.
    pub prompt: SystemPrompt,
    /// The tools it may use (all of the main agent's when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolPattern>,
    /// Its model (the main agent's when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelName>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_definition_reads_with_its_rules() {
        let agent: Subagent = serde_json::from_value(json!({
            "description": "Reviews code", "prompt": "You review.", "tools": ["Read", "Grep"], "model": "haiku"
        }))
        .unwrap();
        assert_eq!(agent.tools.len(), 2);
        for bad in [
            json!({"description": "", "prompt": "p"}),
            json!({"description": "d"}),
            json!({"description": "d", "prompt": "p", "color": "red"}),
            json!({"description": "d", "prompt": "p", "tools": ["Bad Tool"]}),
        ] {
            assert!(
                serde_json::from_value::<Subagent>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        assert!(SubagentName::new("code-reviewer").is_ok());
        for bad in ["", "Reviewer", "9lives", "a b", &"a".repeat(65)] {
            assert!(SubagentName::new(bad).is_err(), "{bad}");
        }
    }
}
