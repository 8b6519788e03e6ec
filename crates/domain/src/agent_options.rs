//! The agent options a task or session runs with (`sdk_options` in the database).
//!
//! Every field has a type that can only hold a valid value, so an `AgentOptions` is valid by
//! construction whether it came from a request, from storage, or from code.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::agent_values::{ModelName, SystemPrompt, ToolPattern};
use crate::effort::Effort;
use crate::output_format::OutputFormat;
use crate::setting_source::SettingSource;
use crate::subagent::{Subagent, SubagentName};
use crate::validation::{ValidationError, check_optional_text, validated_string};

const MAX_ENV_VALUE_BYTES: usize = 32 * 1024;

/// Options for one agent process. Unknown fields are rejected so a typo (`allowed_tool`) is an
/// error rather than a silently ignored setting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_model: Option<ModelName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<NonZeroU32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_tools: Vec<ToolPattern>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disallowed_tools: Vec<ToolPattern>,
    /// Tools that need a person's approval each time they are used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ask_tools: Vec<ToolPattern>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<PermissionMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_turns: Option<NonZeroU32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<SystemPrompt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub append_system_prompt: Option<SystemPrompt>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub mcp_servers: BTreeMap<McpServerName, McpServerConfig>,
    /// The service's own tool servers this agent may use, by name, each with its settings
    /// (`{}` for the defaults): `{"kubernetes_readonly": {"context": "prod"}}`. Which names
    /// exist, and what their settings mean, is the service's business, checked when a task or
    /// session is saved.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub builtin_servers: BTreeMap<McpServerName, Map<String, Value>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<EnvVarName, EnvValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_dirs: Vec<ExtraDir>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_budget_usd: Option<UsdBudget>,
    /// For a task: what all of its runs together may spend per UTC month, in US dollars. Once
    /// it is spent, runs are refused; a run that reaches it is stopped. Interactive sessions
    /// have no task and ignore it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_budget_usd: Option<UsdBudget>,
    /// How long one execution may run before it is stopped and failed (a service default
    /// applies when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<ExecutionTimeout>,
    /// Passed to the CLI's `--settings` as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<Map<String, Value>>,
    /// The run's result must be JSON matching a schema (`--json-schema`):
    /// `{"type": "json_schema", "schema": {…}}`. It is stored as the execution's
    /// `structured_output`; a run whose result does not match fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_format: Option<OutputFormat>,
    /// Sub-agents the agent may hand work to, by name (`--agents`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub agents: BTreeMap<SubagentName, Subagent>,
    /// How hard the model works on each answer (`--effort`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effort: Option<Effort>,
    /// Which of the CLI's own settings files to load (`--setting-sources`); `[]` loads none.
    /// Unset: the CLI's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting_sources: Option<Vec<SettingSource>>,
    /// Plugin directories (`--plugin-dir`): absolute, inside the directories an admin allows,
    /// like `add_dirs`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<ExtraDir>,
}

impl AgentOptions {
    /// Parses options from their stored or submitted JSON.
    ///
    /// # Errors
    /// A [`ValidationError`] whose field is `sdk_options` and whose reason names the offending
    /// key (serde's message).
    pub fn from_json(value: Value) -> Result<Self, ValidationError> {
        // serde would also read the struct from an array of its fields in order.
        if !value.is_object() {
            return Err(ValidationError::new("sdk_options", "must be a JSON object"));
        }
        serde_json::from_value(value).map_err(|e| {
            // A value that refuses itself names its own field (`sdk_options.output_format: …`).
            let message = e.to_string();
            match message.split_once(": ") {
                Some((field, reason)) if field.starts_with("sdk_options.") => {
                    ValidationError::new(field, reason)
                }
                _ => ValidationError::new("sdk_options", message),
            }
        })
    }

    /// The JSON stored in the database.
    #[must_use]
    pub fn to_json(&self) -> Value {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// How the CLI treats tool use that no rule decides (`--permission-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PermissionMode {
    Default,
    AcceptEdits,
    Plan,
    BypassPermissions,
}

impl PermissionMode {
    /// The spelling the CLI expects.
    #[must_use]
    pub fn as_cli_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::AcceptEdits => "acceptEdits",
            Self::Plan => "plan",
            Self::BypassPermissions => "bypassPermissions",
        }
    }
}

validated_string!(
    /// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
    EnvVarName,
    |value| {
        let mut chars = value.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && value.len() <= 128;
        if ok {
            Ok(())
        } else {
            Err(ValidationError::new(
                "env",
                format!("'{value}' is not an environment variable name"),
            ))
        }
    }
);

validated_string!(
    /// An environment variable value: no NUL (the OS cannot pass one), at most 32 KiB.
    EnvValue,
    |value| {
        if value.contains('\0') || value.len() > MAX_ENV_VALUE_BYTES {
            return Err(ValidationError::new(
                "env",
                format!("values must be at most {MAX_ENV_VALUE_BYTES} bytes without NUL"),
            ));
        }
        Ok(())
    }
);

/// Where extra directories (`add_dirs`) may lie: inside one of the directories an admin
/// allows. With none allowed, no task or session may ask for one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirRoots(Vec<PathBuf>);

impl DirRoots {
    #[must_use]
    pub fn new(roots: impl IntoIterator<Item = PathBuf>) -> Self {
        Self(roots.into_iter().collect())
    }

    /// Refuses options whose `add_dirs` or `plugins` leave every root. The check is on the
    /// (normalized) path; the agent's sandbox binds exactly that path.
    ///
    /// # Errors
    /// A [`ValidationError`] on `sdk_options.add_dirs` or `sdk_options.plugins` naming the
    /// first directory outside.
    pub fn check(&self, options: &AgentOptions) -> Result<(), ValidationError> {
        self.check_dirs("sdk_options.add_dirs", &options.add_dirs)?;
        self.check_dirs("sdk_options.plugins", &options.plugins)
    }

    fn check_dirs(&self, field: &str, dirs: &[ExtraDir]) -> Result<(), ValidationError> {
        let outside = dirs.iter().find(|dir| {
            !self
                .0
                .iter()
                .any(|root| Path::new(dir.as_str()).starts_with(root))
        });
        match outside {
            None => Ok(()),
            Some(dir) if self.0.is_empty() => Err(ValidationError::new(
                field,
                format!(
                    "'{}': no extra directories are allowed on this service",
                    dir.as_str()
                ),
            )),
            Some(dir) => Err(ValidationError::new(
                field,
                format!(
                    "'{}' is outside the allowed directories ({})",
                    dir.as_str(),
                    self.0
                        .iter()
                        .map(|root| root.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

validated_string!(
    /// An extra directory the agent may use (`--add-dir`): absolute, normalized (no `.`/`..`).
    ExtraDir,
    |value| {
        let path = Path::new(value);
        let normalized = path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        if !path.is_absolute() || !normalized || value.contains('\0') || value.len() > 4096 {
            return Err(ValidationError::new(
                "add_dirs",
                format!("'{value}' must be an absolute path without '.' or '..'"),
            ));
        }
        Ok(())
    }
);

validated_string!(
    /// The name of an MCP server: letters, digits, `_` and `-`, at most 64 characters. It
    /// becomes part of tool names (`mcp__<server>__<tool>`).
    McpServerName,
    |value| {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(())
        } else {
            Err(ValidationError::new(
                "name",
                format!("'{value}' is not an MCP server name (letters, digits, '_', '-')"),
            ))
        }
    }
);

validated_string!(
    /// An `http://` or `https://` URL without whitespace.
    HttpUrl,
    |value| {
        let has_scheme = value.starts_with("http://") || value.starts_with("https://");
        if !has_scheme || value.len() > 2048 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ValidationError::new("url", format!("'{value}' is not an http(s) URL")));
        }
        Ok(())
    }
);

/// A positive, finite budget in US dollars.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct UsdBudget(f64);

impl UsdBudget {
    /// # Errors
    /// A [`ValidationError`] unless `value` is finite and greater than zero.
    pub fn new(value: f64) -> Result<Self, ValidationError> {
        if value.is_finite() && value > 0.0 {
            Ok(Self(value))
        } else {
            Err(ValidationError::new(
                "max_budget_usd",
                "must be a positive amount",
            ))
        }
    }

    #[must_use]
    pub fn value(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for UsdBudget {
    type Error = ValidationError;
    fn try_from(value: f64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<UsdBudget> for f64 {
    fn from(value: UsdBudget) -> f64 {
        value.0
    }
}

/// How long one execution may run, in whole seconds: 1 s to 7 days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct ExecutionTimeout(u32);

impl ExecutionTimeout {
    pub const MAX_SECONDS: u32 = 7 * 24 * 60 * 60;

    /// # Errors
    /// A [`ValidationError`] unless `seconds` is within 1 ..= [`Self::MAX_SECONDS`].
    pub fn new(seconds: u64) -> Result<Self, ValidationError> {
        match u32::try_from(seconds) {
            Ok(s) if (1..=Self::MAX_SECONDS).contains(&s) => Ok(Self(s)),
            _ => Err(ValidationError::new(
                "timeout_seconds",
                format!("must be between 1 and {} seconds", Self::MAX_SECONDS),
            )),
        }
    }

    #[must_use]
    pub fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.0))
    }
}

impl TryFrom<u64> for ExecutionTimeout {
    type Error = ValidationError;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ExecutionTimeout> for u64 {
    fn from(value: ExecutionTimeout) -> u64 {
        u64::from(value.0)
    }
}

/// How the CLI reaches an MCP server. The wire form is Claude Code's own `mcpServers` entry;
/// a missing `type` means `stdio`, as in the CLI's configuration files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawMcpServerConfig", into = "RawMcpServerConfig")]
pub enum McpServerConfig {
    /// A local process the CLI starts.
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<EnvVarName, EnvValue>,
    },
    /// A remote server over streamable HTTP.
    Http {
        url: HttpUrl,
        headers: BTreeMap<String, String>,
    },
    /// A remote server over server-sent events.
    Sse {
        url: HttpUrl,
        headers: BTreeMap<String, String>,
    },
    /// A server implemented inside Overseer, tunnelled over the control protocol.
    Sdk,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMcpServerConfig {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    env: BTreeMap<EnvVarName, EnvValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<HttpUrl>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
}

impl TryFrom<RawMcpServerConfig> for McpServerConfig {
    type Error = ValidationError;

    fn try_from(raw: RawMcpServerConfig) -> Result<Self, Self::Error> {
        let remote_only = !raw.headers.is_empty() || raw.url.is_some();
        let local_only = raw.command.is_some() || !raw.args.is_empty() || !raw.env.is_empty();
        let misplaced = |kind: &str| {
            ValidationError::new(
                "mcp_servers",
                format!("fields that do not belong to a '{kind}' server"),
            )
        };
        match raw.kind.as_deref().unwrap_or("stdio") {
            "stdio" => {
                if remote_only {
                    return Err(misplaced("stdio"));
                }
                let command = raw.command.ok_or_else(|| {
                    ValidationError::new("mcp_servers.command", "a stdio server needs a command")
                })?;
                check_optional_text("mcp_servers.command", &command, 4096)?;
                if command.trim().is_empty() {
                    return Err(ValidationError::new(
                        "mcp_servers.command",
                        "must not be empty",
                    ));
                }
                Ok(Self::Stdio {
                    command,
                    args: raw.args,
                    env: raw.env,
                })
            }
            kind @ ("http" | "sse") => {
                if local_only {
                    return Err(misplaced(kind));
                }
                let url = raw.url.ok_or_else(|| {
                    ValidationError::new("mcp_servers.url", "a remote server needs a url")
                })?;
                Ok(if kind == "http" {
                    Self::Http {
                        url,
                        headers: raw.headers,
                    }
                } else {
                    Self::Sse {
                        url,
                        headers: raw.headers,
                    }
                })
            }
            "sdk" => {
                if local_only || remote_only {
                    return Err(misplaced("sdk"));
                }
                Ok(Self::Sdk)
            }
            other => Err(ValidationError::new(
                "mcp_servers.type",
                format!("'{other}' is not one of stdio, http, sse, sdk"),
            )),
        }
    }
}

impl From<McpServerConfig> for RawMcpServerConfig {
    fn from(config: McpServerConfig) -> Self {
        let empty = Self {
            kind: None,
            command: None,
            args: Vec::new(),
            env: BTreeMap::new(),
            url: None,
            headers: BTreeMap::new(),
        };
        match config {
            McpServerConfig::Stdio { command, args, env } => Self {
                kind: Some("stdio".into()),
                command: Some(command),
                args,
                env,
                ..empty
            },
            McpServerConfig::Http { url, headers } => Self {
                kind: Some("http".into()),
                url: Some(url),
                headers,
                ..empty
            },
            McpServerConfig::Sse { url, headers } => Self {
                kind: Some("sse".into()),
                url: Some(url),
                headers,
                ..empty
            },
            McpServerConfig::Sdk => Self {
                kind: Some("sdk".into()),
                ..empty
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn full_options_round_trip() {
        let value = json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 4096,
            "allowed_tools": ["Read", "Bash(kubectl get:*)", "mcp__k8s__*"],
            "disallowed_tools": ["Write"],
            "permission_mode": "acceptEdits",
            "max_turns": 10,
            "system_prompt": "You are an SRE.",
            "mcp_servers": {
                "k8s": {"command": "kubectl-mcp", "args": ["--ro"], "env": {"KUBECONFIG": "/k"}},
                "docs": {"type": "http", "url": "https://docs.example/mcp", "headers": {"X-Team": "sre"}},
                "ops": {"type": "sdk"}
            },
            "builtin_servers": {"kubernetes_readonly": {"context": "prod"}, "database": {}},
            "env": {"CLUSTER": "prod"},
            "add_dirs": ["/srv/shared"],
            "max_budget_usd": 2.5,
            "monthly_budget_usd": 40.0,
            "timeout_seconds": 600,
            "settings": {"cleanupPeriodDays": 1}
        });
        let options = AgentOptions::from_json(value).unwrap();
        assert_eq!(options.permission_mode, Some(PermissionMode::AcceptEdits));
        assert_eq!(options.allowed_tools[1].tool_name(), "Bash");
        assert_eq!(
            options.allowed_tools[1].argument_pattern(),
            Some("kubectl get:*")
        );
        assert!(matches!(
            options.mcp_servers[&McpServerName::new("k8s").unwrap()],
            McpServerConfig::Stdio { .. }
        ));
        let again = AgentOptions::from_json(options.to_json()).unwrap();
        assert_eq!(again, options);
    }

    #[test]
    fn empty_object_is_the_default() {
        let options = AgentOptions::from_json(json!({})).unwrap();
        assert_eq!(options, AgentOptions::default());
        assert_eq!(options.to_json(), json!({}));
    }

    #[test]
    fn each_invalid_field_is_rejected() {
        let cases = [
            json!({"max_turns": 0}),
            json!({"max_tokens": 0}),
            json!({"permission_mode": "yolo"}),
            json!({"model": "has space"}),
            json!({"model": ""}),
            json!({"allowed_tools": ["Bash(unclosed"]}),
            json!({"allowed_tools": ["bad name"]}),
            json!({"env": {"1BAD": "x"}}),
            json!({"env": {"OK": "nul\u{0}"}}),
            json!({"add_dirs": ["relative/dir"]}),
            json!({"add_dirs": ["/a/../etc"]}),
            json!({"max_budget_usd": 0}),
            json!({"max_budget_usd": -1.0}),
            json!({"monthly_budget_usd": 0}),
            json!({"timeout_seconds": 0}),
            json!({"timeout_seconds": 604_801}),
            json!({"timeout_seconds": -5}),
            json!({"mcp_servers": {"bad name": {"command": "x"}}}),
            json!({"mcp_servers": {"s": {"type": "http"}}}),
            json!({"mcp_servers": {"s": {"type": "ftp", "url": "ftp://x"}}}),
            json!({"mcp_servers": {"s": {"command": "x", "url": "http://y"}}}),
            json!({"mcp_servers": {"s": {"type": "http", "url": "not a url"}}}),
            json!({"settings": "not an object"}),
            json!({"builtin_servers": ["database"]}),
            json!([null, null]),
            json!("sonnet"),
            json!({"builtin_servers": {"database": true}}),
            json!({"builtin_servers": {"bad name": {}}}),
            json!({"allowed_tool": ["Read"]}),
        ];
        for case in cases {
            let err = AgentOptions::from_json(case.clone());
            assert!(err.is_err(), "{case} should be rejected");
        }
    }

    #[test]
    fn unknown_field_error_names_it() {
        let err = AgentOptions::from_json(json!({"allowed_tool": []})).unwrap_err();
        assert!(err.reason.contains("allowed_tool"), "{err}");
    }
}

#[cfg(test)]
mod dir_root_tests {
    use serde_json::json;

    use super::*;

    fn asking_for(dirs: &[&str]) -> AgentOptions {
        AgentOptions::from_json(json!({ "add_dirs": dirs })).unwrap()
    }

    #[test]
    fn extra_directories_must_lie_inside_an_allowed_root() {
        let roots = DirRoots::new([PathBuf::from("/srv/shared"), PathBuf::from("/data/repos")]);
        assert!(roots.check(&asking_for(&[])).is_ok());
        assert!(
            roots
                .check(&asking_for(&["/srv/shared", "/data/repos/overseer"]))
                .is_ok()
        );
        for outside in ["/srv/shared2", "/srv", "/etc", "/data/reposx/a"] {
            let err = roots
                .check(&asking_for(&["/srv/shared/a", outside]))
                .unwrap_err();
            assert_eq!(err.field, "sdk_options.add_dirs");
            assert!(err.reason.contains(outside), "{err:?}");
        }
    }

    #[test]
    fn without_roots_no_extra_directory_is_allowed() {
        let err = DirRoots::default()
            .check(&asking_for(&["/srv/shared"]))
            .unwrap_err();
        assert!(err.reason.contains("no extra directories"), "{err:?}");
        assert!(DirRoots::default().check(&asking_for(&[])).is_ok());
    }
}
