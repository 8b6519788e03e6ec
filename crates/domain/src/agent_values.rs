//! The validated values that agent options and sub-agent definitions share: model names,
//! tool rules and system prompts.

use crate::validation::{ValidationError, validated_string};

const MAX_SYSTEM_PROMPT_BYTES: usize = 64 * 1024;
const MAX_TOOL_PATTERN_CHARS: usize = 512;

validated_string!(
    /// A model id or alias (`sonnet`, `claude-sonnet-4-5`, `vendor/model@2025`): printable ASCII
    /// without spaces, at most 128 characters.
    ModelName,
    |value| {
        if value.is_empty()
            || value.len() > 128
            || !value.chars().all(|c| c.is_ascii_graphic())
        {
            return Err(ValidationError::new(
                "model",
                "must be 1 to 128 printable ASCII characters without spaces",
            ));
        }
        Ok(())
    }
);

validated_string!(
    /// A tool rule: a tool name or glob (`Bash`, `mcp__k8s__*`), optionally followed by an
    /// argument pattern in parentheses (`Bash(kubectl get:*)`).
    ToolPattern,
    |value| {
        let invalid = |why: &str| Err(ValidationError::new("tools", format!("'{value}': {why}")));
        if value.chars().count() > MAX_TOOL_PATTERN_CHARS {
            return invalid("too long");
        }
        let (name, argument) = match value.find('(') {
            Some(open) => (&value[..open], Some(&value[open..])),
            None => (value, None),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*' | '.'))
        {
            return invalid("a tool name is letters, digits, '_', '-', '.' or '*'");
        }
        if let Some(argument) = argument {
            if argument.len() < 2 || !argument.ends_with(')') {
                return invalid("an argument pattern is '(...)' at the end");
            }
            if argument.chars().any(char::is_control) {
                return invalid("control characters are not allowed");
            }
        }
        Ok(())
    }
);

impl ToolPattern {
    /// The tool name part (`Bash` of `Bash(ls:*)`).
    #[must_use]
    pub fn tool_name(&self) -> &str {
        self.as_str().split('(').next().unwrap_or_default()
    }

    /// The argument pattern inside the parentheses, if any.
    #[must_use]
    pub fn argument_pattern(&self) -> Option<&str> {
        let open = self.as_str().find('(')?;
        self.as_str().get(open + 1..self.as_str().len() - 1)
    }
}

validated_string!(
    /// A system prompt of at most 64 KiB.
    SystemPrompt,
    |value| {
        if value.len() > MAX_SYSTEM_PROMPT_BYTES {
            return Err(ValidationError::new(
                "system_prompt",
                format!("must be at most {MAX_SYSTEM_PROMPT_BYTES} bytes"),
            ));
        }
        if value.contains('\0') {
            return Err(ValidationError::new("system_prompt", "must not contain NUL"));
        }
        Ok(())
    }
);
