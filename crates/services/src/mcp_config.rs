//! Merges the MCP servers a session may use into one map.

use std::collections::BTreeMap;

use overseer_domain::{McpScope, McpServerConfig, McpServerName, UserId};
use overseer_ports::repositories::McpServerRepository;

use crate::error::ServiceError;

/// Merges, lowest precedence first: the service's built-in servers, the enabled global servers,
/// the user's own enabled servers (a user's server shadows a global one of the same name), and
/// finally the servers the task or session names itself.
#[derive(Clone, Debug, Default)]
pub struct McpConfigBuilder {
    built_in: BTreeMap<McpServerName, McpServerConfig>,
}

impl McpConfigBuilder {
    #[must_use]
    pub fn new(built_in: BTreeMap<McpServerName, McpServerConfig>) -> Self {
        Self { built_in }
    }

    /// The merged map for a session of `user` whose own options name `own`.
    ///
    /// # Errors
    /// [`ServiceError::Storage`] if the registered servers cannot be read.
    pub async fn build(
        &self,
        repo: &dyn McpServerRepository,
        user: UserId,
        own: &BTreeMap<McpServerName, McpServerConfig>,
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
            own.iter()
                .map(|(name, config)| (name.clone(), config.clone())),
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
    async fn precedence_is_built_in_then_global_then_users_then_the_sessions_own() {
        let user = fixtures::user("a@example.com").id;
        let registered = vec![
            server(McpScope::User(user), "k8s", "https://mine/k8s"),
            server(McpScope::Global, "k8s", "https://global/k8s"),
            server(McpScope::Global, "docs", "https://global/docs"),
            server(McpScope::Global, "metrics", "https://global/metrics"),
        ];
        let mut repo = MockMcpServerRepository::new();
        repo.expect_list_enabled_for()
            .withf(move |u| *u == user)
            .return_once(move |_| Ok(registered));
        let built_in = BTreeMap::from([
            (name("docs"), http("https://built-in/docs")),
            (name("ops"), McpServerConfig::Sdk),
        ]);
        let own = BTreeMap::from([(name("metrics"), http("https://task/metrics"))]);

        let merged = McpConfigBuilder::new(built_in)
            .build(&repo, user, &own)
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
        assert_eq!(merged.len(), 4);
    }
}
