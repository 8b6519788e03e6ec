//! The CLI's argument list, from agent options (agent-protocol.md, "Starting the process").

use std::collections::BTreeMap;

use overseer_domain::{AgentOptions, McpServerName};
use serde_json::{Map, Value, json};

/// What besides the options shapes the command line.
#[derive(Clone, Debug, Default)]
pub struct LaunchExtras<'a> {
    /// Route permission prompts to the host (`can_use_tool`).
    pub permission_prompts: bool,
    /// In-process servers the host serves over `mcp_message`.
    pub sdk_servers: Vec<&'a McpServerName>,
    /// The CLI session to continue.
    pub resume: Option<&'a str>,
    /// Continue `resume` as a new session (`--fork-session`).
    pub fork: bool,
    /// Keep `resume`'s conversation only up to this message (`--resume-session-at`).
    pub resume_at: Option<&'a str>,
    /// The cost the CLI carries over from `resume`'s earlier processes: its
    /// `--max-budget-usd` counts that too, so the process's own budget is added to it.
    pub carried_cost_usd: f64,
}

/// Builds the arguments. Every value is its own argument (no shell), so nothing needs quoting.
#[must_use]
pub fn build_args(options: &AgentOptions, extras: &LaunchExtras<'_>) -> Vec<String> {
    let mut args: Vec<String> = [
        "--output-format",
        "stream-json",
        "--verbose",
        "--input-format",
        "stream-json",
    ]
    .map(String::from)
    .to_vec();
    let mut flag = |name: &str, value: String| {
        args.push(name.to_owned());
        args.push(value);
    };
    if let Some(model) = &options.model {
        flag("--model", model.to_string());
    }
    if let Some(model) = &options.fallback_model {
        flag("--fallback-model", model.to_string());
    }
    if let Some(prompt) = &options.system_prompt {
        flag("--system-prompt", prompt.to_string());
    }
    if let Some(prompt) = &options.append_system_prompt {
        flag("--append-system-prompt", prompt.to_string());
    }
    if !options.allowed_tools.is_empty() {
        flag("--allowedTools", join(&options.allowed_tools));
    }
    if !options.disallowed_tools.is_empty() {
        flag("--disallowedTools", join(&options.disallowed_tools));
    }
    if let Some(mode) = options.permission_mode {
        flag("--permission-mode", mode.as_cli_str().to_owned());
    }
    if extras.permission_prompts {
        flag("--permission-prompt-tool", "stdio".to_owned());
    }
    if let Some(turns) = options.max_turns {
        flag("--max-turns", turns.to_string());
    }
    if let Some(budget) = options.max_budget_usd {
        flag(
            "--max-budget-usd",
            (budget.value() + extras.carried_cost_usd).to_string(),
        );
    }
    if let Some(config) = mcp_config(options, &extras.sdk_servers) {
        flag("--mcp-config", config.to_string());
    }
    for dir in &options.add_dirs {
        flag("--add-dir", dir.to_string());
    }
    if let Some(settings) = &options.settings {
        flag("--settings", Value::Object(settings.clone()).to_string());
    }
    if let Some(format) = &options.output_format {
        flag("--json-schema", format.schema().as_value().to_string());
    }
    if !options.agents.is_empty() {
        // The CLI's own shape: `{"name": {"description", "prompt", "tools"?, "model"?}}`.
        flag(
            "--agents",
            serde_json::to_string(&options.agents).unwrap_or_default(),
        );
    }
    if let Some(effort) = options.effort {
        flag("--effort", effort.as_str().to_owned());
    }
    if let Some(sources) = &options.setting_sources {
        let sources: Vec<&str> = sources.iter().map(|s| s.as_str()).collect();
        flag("--setting-sources", sources.join(","));
    }
    for dir in &options.plugins {
        flag("--plugin-dir", dir.to_string());
    }
    // Only the servers configured here, never ones from the user's own CLI configuration.
    args.push("--strict-mcp-config".to_owned());
    if let Some(resume) = extras.resume {
        args.push(format!("--resume={resume}"));
        if extras.fork {
            args.push("--fork-session".to_owned());
        }
        if let Some(message) = extras.resume_at {
            args.push(format!("--resume-session-at={message}"));
        }
    }
    args
}

fn join(patterns: &[overseer_domain::ToolPattern]) -> String {
    patterns
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// `{"mcpServers": {...}}` with the configured servers and the in-process ones, or `None` when
/// there are none. An in-process server shadows a configured one of the same name.
fn mcp_config(options: &AgentOptions, sdk_servers: &[&McpServerName]) -> Option<Value> {
    let mut servers: BTreeMap<String, Value> = options
        .mcp_servers
        .iter()
        .map(|(name, config)| {
            (
                name.to_string(),
                serde_json::to_value(config).unwrap_or(Value::Null),
            )
        })
        .collect();
    for name in sdk_servers {
        servers.insert(
            name.to_string(),
            json!({"type": "sdk", "name": name.as_str()}),
        );
    }
    if servers.is_empty() {
        return None;
    }
    Some(json!({ "mcpServers": servers.into_iter().collect::<Map<String, Value>>() }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn value_after<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
        args.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].as_str())
            .collect()
    }

    #[test]
    fn minimal_options_give_the_bidirectional_stream_flags() {
        let args = build_args(&AgentOptions::default(), &LaunchExtras::default());
        assert_eq!(
            args,
            vec![
                "--output-format",
                "stream-json",
                "--verbose",
                "--input-format",
                "stream-json",
                "--strict-mcp-config"
            ]
        );
    }

    #[test]
    fn every_option_maps_to_its_flag() {
        let options = AgentOptions::from_json(json!({
            "model": "sonnet",
            "fallback_model": "haiku",
            "system_prompt": "Be brief; use \"quotes\" freely",
            "allowed_tools": ["Read", "Bash(kubectl get:*)"],
            "disallowed_tools": ["Write"],
            "permission_mode": "acceptEdits",
            "max_turns": 7,
            "max_budget_usd": 0.5,
            "mcp_servers": {"k8s": {"command": "k8s-mcp", "args": ["--ro"]}},
            "add_dirs": ["/srv/a", "/srv/b"],
            "settings": {"cleanupPeriodDays": 1},
            "output_format": {"type": "json_schema", "schema": {"type": "object"}},
            "agents": {"reviewer": {"description": "Reviews", "prompt": "You review.", "tools": ["Read"]}},
            "effort": "high",
            "setting_sources": ["project"],
            "plugins": ["/srv/plugins/lint"]
        }))
        .unwrap();
        let ops = McpServerName::new("ops").unwrap();
        let extras = LaunchExtras {
            permission_prompts: true,
            sdk_servers: vec![&ops],
            resume: Some("3f1c"),
            fork: true,
            resume_at: Some("9d04"),
            carried_cost_usd: 0.25,
        };
        let args = build_args(&options, &extras);
        assert_eq!(value_after(&args, "--model"), ["sonnet"]);
        assert_eq!(value_after(&args, "--fallback-model"), ["haiku"]);
        assert_eq!(
            value_after(&args, "--system-prompt"),
            ["Be brief; use \"quotes\" freely"]
        );
        assert_eq!(
            value_after(&args, "--allowedTools"),
            ["Read,Bash(kubectl get:*)"]
        );
        assert_eq!(value_after(&args, "--disallowedTools"), ["Write"]);
        assert_eq!(value_after(&args, "--permission-mode"), ["acceptEdits"]);
        assert_eq!(value_after(&args, "--permission-prompt-tool"), ["stdio"]);
        assert_eq!(value_after(&args, "--max-turns"), ["7"]);
        assert_eq!(
            value_after(&args, "--max-budget-usd"),
            ["0.75"],
            "the budget on top of the carried cost"
        );
        assert_eq!(value_after(&args, "--add-dir"), ["/srv/a", "/srv/b"]);
        assert_eq!(
            value_after(&args, "--settings"),
            [r#"{"cleanupPeriodDays":1}"#]
        );
        assert_eq!(
            value_after(&args, "--json-schema"),
            [r#"{"type":"object"}"#]
        );
        assert_eq!(
            value_after(&args, "--agents"),
            [r#"{"reviewer":{"description":"Reviews","prompt":"You review.","tools":["Read"]}}"#]
        );
        assert_eq!(value_after(&args, "--effort"), ["high"]);
        assert_eq!(value_after(&args, "--setting-sources"), ["project"]);
        assert_eq!(value_after(&args, "--plugin-dir"), ["/srv/plugins/lint"]);
        assert!(args.contains(&"--resume=3f1c".to_owned()));
        assert!(args.contains(&"--fork-session".to_owned()));
        assert!(args.contains(&"--resume-session-at=9d04".to_owned()));
        let mcp: Value = serde_json::from_str(value_after(&args, "--mcp-config")[0]).unwrap();
        assert_eq!(
            mcp,
            json!({"mcpServers": {
                "k8s": {"type": "stdio", "command": "k8s-mcp", "args": ["--ro"]},
                "ops": {"type": "sdk", "name": "ops"}
            }})
        );
    }
}
