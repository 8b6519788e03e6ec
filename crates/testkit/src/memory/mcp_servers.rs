use async_trait::async_trait;
use overseer_domain::{McpScope, McpServer, McpServerId, UserId};
use overseer_ports::repositories::McpServerRepository;
use overseer_ports::{Page, PageRequest, RepoError, Scope};

use super::{MemoryStore, newest_first_page};

const ENTITY: &str = "MCP server";

fn visible(server: &McpServer, scope: Scope) -> bool {
    match (scope, server.scope) {
        (Scope::Admin, _) | (Scope::Owner(_), McpScope::Global) => true,
        (Scope::Owner(me), McpScope::User(owner)) => me == owner,
    }
}

fn name_taken(state: &super::State, server: &McpServer) -> bool {
    state
        .mcp_servers
        .values()
        .any(|s| s.id != server.id && s.scope == server.scope && s.name == server.name)
}

#[async_trait]
impl McpServerRepository for MemoryStore {
    async fn insert(&self, server: &McpServer) -> Result<(), RepoError> {
        let mut state = self.lock();
        if let McpScope::User(owner) = server.scope
            && !state.users.contains_key(&owner)
        {
            return Err(RepoError::NotFound { entity: "user" });
        }
        if state.mcp_servers.contains_key(&server.id) || name_taken(&state, server) {
            return Err(RepoError::AlreadyExists {
                entity: ENTITY,
                key: "owner, name".to_owned(),
            });
        }
        state.mcp_servers.insert(server.id, server.clone());
        Ok(())
    }

    async fn get(&self, id: McpServerId, scope: Scope) -> Result<McpServer, RepoError> {
        self.lock()
            .mcp_servers
            .get(&id)
            .filter(|s| visible(s, scope))
            .cloned()
            .ok_or(RepoError::NotFound { entity: ENTITY })
    }

    async fn list(&self, scope: Scope, page: PageRequest) -> Result<Page<McpServer>, RepoError> {
        let state = self.lock();
        let rows = state
            .mcp_servers
            .values()
            .filter(|s| visible(s, scope))
            .cloned();
        Ok(newest_first_page(
            rows,
            |s| (s.created_at, s.id.as_uuid()),
            page,
        ))
    }

    async fn list_enabled_for(&self, user: UserId) -> Result<Vec<McpServer>, RepoError> {
        let state = self.lock();
        let mut rows: Vec<McpServer> = state
            .mcp_servers
            .values()
            .filter(|s| s.is_enabled && visible(s, Scope::Owner(user)))
            .cloned()
            .collect();
        // By name; of two with one name, the user's own (not global) first, as the SQL store.
        rows.sort_by(|a, b| {
            (a.name.as_str(), a.scope == McpScope::Global)
                .cmp(&(b.name.as_str(), b.scope == McpScope::Global))
        });
        Ok(rows)
    }

    async fn update(&self, server: &McpServer) -> Result<(), RepoError> {
        let mut state = self.lock();
        let Some(stored_scope) = state.mcp_servers.get(&server.id).map(|s| s.scope) else {
            return Err(RepoError::NotFound { entity: ENTITY });
        };
        let renamed = McpServer {
            scope: stored_scope,
            ..server.clone()
        };
        if name_taken(&state, &renamed) {
            return Err(RepoError::AlreadyExists {
                entity: ENTITY,
                key: "owner, name".to_owned(),
            });
        }
        if let Some(stored) = state.mcp_servers.get_mut(&server.id) {
            stored.name = server.name.clone();
            stored.config = server.config.clone();
            stored.is_enabled = server.is_enabled;
            stored.updated_at = server.updated_at;
        }
        Ok(())
    }

    async fn delete(&self, id: McpServerId, scope: Scope) -> Result<(), RepoError> {
        let mut state = self.lock();
        let removable = state
            .mcp_servers
            .get(&id)
            .is_some_and(|s| match (scope, s.scope) {
                (Scope::Admin, _) => true,
                (Scope::Owner(me), McpScope::User(owner)) => me == owner,
                (Scope::Owner(_), McpScope::Global) => false,
            });
        if !removable {
            return Err(RepoError::NotFound { entity: ENTITY });
        }
        state.mcp_servers.remove(&id);
        Ok(())
    }
}
