//! What a task's or session's agent options must satisfy on this service, beyond their own
//! shape: extra directories inside the allowed roots, and only the built-in tool servers the
//! service offers, with settings each server accepts.

use std::collections::BTreeMap;
use std::sync::Arc;

use overseer_domain::{AgentOptions, DirRoots, McpServerName, ValidationError};
use overseer_ports::agent::{McpToolServer, ToolServerFactory};

const FIELD: &str = "sdk_options.builtin_servers";

/// The service's own tool servers, by the name a task enables them with.
#[derive(Clone, Default)]
pub struct BuiltinToolServers(BTreeMap<McpServerName, Arc<dyn ToolServerFactory>>);

impl std::fmt::Debug for BuiltinToolServers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl BuiltinToolServers {
    /// Offers `factory` as the server `name`.
    #[must_use]
    pub fn with(mut self, name: McpServerName, factory: Arc<dyn ToolServerFactory>) -> Self {
        self.0.insert(name, factory);
        self
    }

    /// Refuses a name the service does not offer, settings the server refuses, and a server
    /// of the task's own `mcp_servers` under a name it also enables here (the agent could not
    /// tell the two apart).
    ///
    /// # Errors
    /// A [`ValidationError`] on `sdk_options.builtin_servers[.<name>]` or
    /// `sdk_options.mcp_servers`.
    pub fn check(&self, options: &AgentOptions) -> Result<(), ValidationError> {
        for (name, settings) in &options.builtin_servers {
            let Some(factory) = self.0.get(name) else {
                return Err(ValidationError::new(
                    FIELD,
                    format!(
                        "'{}' is not a built-in tool server of this service (offered: {})",
                        name.as_str(),
                        self.offered()
                    ),
                ));
            };
            factory.check(settings).map_err(|reason| {
                ValidationError::new(format!("{FIELD}.{}", name.as_str()), reason)
            })?;
            if options.mcp_servers.contains_key(name) {
                return Err(ValidationError::new(
                    "sdk_options.mcp_servers",
                    format!(
                        "'{}' is also enabled in builtin_servers; give one of them another name",
                        name.as_str()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The servers `options` enable, each opened for one session. A name the service no
    /// longer offers is skipped: the agent then reports that server as failed.
    #[must_use]
    pub fn open(&self, options: &AgentOptions) -> BTreeMap<McpServerName, Arc<dyn McpToolServer>> {
        options
            .builtin_servers
            .iter()
            .filter_map(|(name, settings)| {
                let factory = self.0.get(name)?;
                Some((name.clone(), factory.open(settings)))
            })
            .collect()
    }

    fn offered(&self) -> String {
        if self.0.is_empty() {
            return "none".to_owned();
        }
        self.0
            .keys()
            .map(McpServerName::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Everything a task's or session's options are checked against when they are saved.
#[derive(Clone, Debug, Default)]
pub struct OptionRules {
    /// Where `add_dirs` may lie.
    pub dir_roots: DirRoots,
    /// The servers `builtin_servers` may name.
    pub tool_servers: BuiltinToolServers,
}

impl OptionRules {
    /// # Errors
    /// The first [`ValidationError`] found.
    pub fn check(&self, options: &AgentOptions) -> Result<(), ValidationError> {
        self.dir_roots.check(options)?;
        self.tool_servers.check(options)
    }
}

#[cfg(test)]
mod tests {
    use overseer_domain::McpServerConfig;
    use overseer_ports::agent::{MockMcpToolServer, MockToolServerFactory};
    use serde_json::{Map, Value, json};

    use super::*;

    fn name(n: &str) -> McpServerName {
        McpServerName::new(n).unwrap()
    }

    fn options(value: Value) -> AgentOptions {
        AgentOptions::from_json(value).unwrap()
    }

    /// A server that accepts settings without a `bad` key.
    fn factory() -> Arc<dyn ToolServerFactory> {
        let mut factory = MockToolServerFactory::new();
        factory.expect_check().returning(|settings| {
            if settings.contains_key("bad") {
                Err("'bad' is not a setting".to_owned())
            } else {
                Ok(())
            }
        });
        factory
            .expect_open()
            .returning(|_| Arc::new(MockMcpToolServer::new()));
        Arc::new(factory)
    }

    fn servers() -> BuiltinToolServers {
        BuiltinToolServers::default()
            .with(name("database"), factory())
            .with(name("monitoring"), factory())
    }

    #[test]
    fn offered_servers_with_good_settings_pass() {
        let opts = options(json!({"builtin_servers": {"database": {}, "monitoring": {"x": 1}}}));
        assert_eq!(servers().check(&opts), Ok(()));
        assert_eq!(servers().check(&AgentOptions::default()), Ok(()));
    }

    #[test]
    fn an_unknown_name_is_refused_naming_it_and_what_is_offered() {
        let err = servers()
            .check(&options(json!({"builtin_servers": {"kubernetes": {}}})))
            .unwrap_err();
        assert_eq!(err.field, FIELD);
        assert!(err.reason.contains("'kubernetes'"), "{err}");
        assert!(err.reason.contains("database, monitoring"), "{err}");
        let none = BuiltinToolServers::default()
            .check(&options(json!({"builtin_servers": {"database": {}}})))
            .unwrap_err();
        assert!(none.reason.contains("offered: none"), "{none}");
    }

    #[test]
    fn settings_a_server_refuses_name_the_server() {
        let err = servers()
            .check(&options(
                json!({"builtin_servers": {"database": {"bad": 1}}}),
            ))
            .unwrap_err();
        assert_eq!(err.field, "sdk_options.builtin_servers.database");
        assert!(err.reason.contains("'bad'"), "{err}");
    }

    #[test]
    fn an_own_mcp_server_of_the_same_name_is_refused() {
        let err = servers()
            .check(&options(json!({
                "builtin_servers": {"database": {}},
                "mcp_servers": {"database": {"command": "db-mcp"}}
            })))
            .unwrap_err();
        assert_eq!(err.field, "sdk_options.mcp_servers");
    }

    #[test]
    fn open_serves_exactly_the_enabled_offered_servers() {
        let mut opts = options(json!({"builtin_servers": {"database": {}}}));
        opts.builtin_servers.insert(name("retired"), Map::new());
        opts.mcp_servers.insert(name("other"), McpServerConfig::Sdk);
        let opened = servers().open(&opts);
        assert_eq!(opened.keys().collect::<Vec<_>>(), vec![&name("database")]);
    }

    #[test]
    fn rules_check_directories_and_servers() {
        let rules = OptionRules {
            dir_roots: DirRoots::default(),
            tool_servers: servers(),
        };
        assert_eq!(
            rules
                .check(&options(json!({"add_dirs": ["/srv"]})))
                .unwrap_err()
                .field,
            "sdk_options.add_dirs"
        );
        assert_eq!(
            rules
                .check(&options(json!({"builtin_servers": {"nope": {}}})))
                .unwrap_err()
                .field,
            FIELD
        );
    }
}
