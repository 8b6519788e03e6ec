//! Merges the MCP servers a session may use into one map.

use std::collections::BTreeMap;

use overseer_domain::{AgentOptions, McpScope, McpServerConfig, McpServerName, UserId};
use overseer_ports::repositories::McpServerRepository;

use crate::error::ServiceError;

/// Merges, lowest precedence first: the service's always-on servers, the enabled global
/// servers, the user's own enabled servers (a user's server shadows a global one of the same
/// name), the servers the task or session names itself, and finally the built-in tool servers
/// it enables (`builtin_servers`), which the service serves in-process.
#[derive(Clone, Debug, Default)]
pub struct McpConfigBuilder {
    built_in: BTreeMap<McpServerName, McpServerConfig>,
}

impl McpConfigBuilder {
    #[must_use]
    pub fn new(built_in: BTreeMap<McpServerName, McpServerConfig>) -> Self {
        Self { built_in }
    }

    /// The merged map for a session of `user` with `options`.
    ///
    /// # Errors
    /// [`ServiceError::Storage`] if the registered servers cannot be read.
    pub async fn build(
        &self,
        repo: &dyn McpServerRepository,
        user: UserId,
        options: &AgentOptions,
    ) -> Result<BTreeMap<McpServerName, McpServerConfig>, ServiceError> {
        let registered = repo.list_enabled_for(user).await?;
        let mut merged = self.built_in.clone();
        let (globals, users): (Vec<_>, Vec<_>) = registered
            .into_iter()
            .partition(|s| s.scope == McpScope::Global);
        for server in globals.into_iter().chain(users) {
            merged.insert(server.name, server.config);
        }
        merged.extend(
            options
                .mcp_servers
                .iter()
                .map(|(name, config)| (name.clone(), config.clone())),
        );
        merged.extend(
            options
                .builtin_servers
                .keys()
                .map(|name| (name.clone(), McpServerConfig::Sdk)),
        );
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use overseer_domain::{HttpUrl, McpServer};
    use overseer_ports::repositories::MockMcpServerRepository;
    use overseer_testkit::fixtures;

    use super::*;

    fn http(url: &str) -> McpServerConfig {
        McpServerConfig::Http {
            url: HttpUrl::new(url).unwrap(),
            headers: BTreeMap::new(),
        }
    }

    fn server(scope: McpScope, name: &str, url: &str) -> McpServer {
        McpServer {
            config: http(url),
            ..fixtures::mcp_server(scope, name, fixtures::EPOCH)
        }
    }

    fn name(n: &str) -> McpServerName {
        McpServerName::new(n).unwrap()
    }

    #[tokio::test]
    async fn precedence_is_always_on_then_global_then_users_then_own_then_enabled_built_ins() {
        let user = fixtures::user("a@example.com").id;
        let registered = vec![
            server(McpScope::User(user), "k8s", "https://mine/k8s"),
            server(McpScope::Global, "k8s", "https://global/k8s"),
            server(McpScope::Global, "docs", "https://global/docs"),
            server(McpScope::Global, "metrics", "https://global/metrics"),
            server(McpScope::User(user), "database", "https://mine/database"),
        ];
        let mut repo = MockMcpServerRepository::new();
        repo.expect_list_enabled_for()
            .withf(move |u| *u == user)
            .return_once(move |_| Ok(registered));
        let built_in = BTreeMap::from([
            (name("docs"), http("https://built-in/docs")),
            (name("ops"), McpServerConfig::Sdk),
        ]);
        let options = AgentOptions::from_json(serde_json::json!({
            "mcp_servers": {"metrics": {"type": "http", "url": "https://task/metrics"}},
            "builtin_servers": {"database": {}},
        }))
        .unwrap();

        let merged = McpConfigBuilder::new(built_in)
            .build(&repo, user, &options)
            .await
            .unwrap();
        assert_eq!(
            merged[&name("k8s")],
            http("https://mine/k8s"),
            "the user's own shadows the global one"
        );
        assert_eq!(
            merged[&name("docs")],
            http("https://global/docs"),
            "a global one shadows a built-in one"
        );
        assert_eq!(
            merged[&name("ops")],
            McpServerConfig::Sdk,
            "built-ins stay when nothing shadows them"
        );
        assert_eq!(
            merged[&name("metrics")],
            http("https://task/metrics"),
            "the session's own win"
        );
        assert_eq!(
            merged[&name("database")],
            McpServerConfig::Sdk,
            "an enabled built-in tool server wins over every registered one"
        );
        assert_eq!(merged.len(), 5);
    }
}
