use async_trait::async_trait;
use overseer_domain::{McpServer, McpServerId, UserId};

use crate::{Page, PageRequest, RepoError, Scope};

/// MCP servers. In an owner scope a user sees their own servers and the global ones; changing a
/// global server is an admin decision the service makes before calling `update`/`delete`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait McpServerRepository: Send + Sync {
    /// Stores a new server.
    ///
    /// # Errors
    /// `AlreadyExists` if its owner (or the global scope) already has a server of that name.
    async fn insert(&self, server: &McpServer) -> Result<(), RepoError>;

    /// # Errors
    /// `NotFound` if it does not exist or is neither global nor in `scope`.
    async fn get(&self, id: McpServerId, scope: Scope) -> Result<McpServer, RepoError>;

    /// Servers visible in `scope`, newest first.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list(&self, scope: Scope, page: PageRequest) -> Result<Page<McpServer>, RepoError>;

    /// Every enabled server a session of `user` may use: the user's own and the global ones
    /// (shadowing is the McpConfigBuilder's business), sorted by name.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list_enabled_for(&self, user: UserId) -> Result<Vec<McpServer>, RepoError>;

    /// Writes name, config, `is_enabled` and `updated_at`.
    ///
    /// # Errors
    /// `NotFound`; `AlreadyExists` if the new name is taken in the same scope.
    async fn update(&self, server: &McpServer) -> Result<(), RepoError>;

    /// Removes a server. An owner scope removes only the owner's own servers; a global one needs
    /// the admin scope.
    ///
    /// # Errors
    /// `NotFound` if it does not exist or is not removable in `scope`.
    async fn delete(&self, id: McpServerId, scope: Scope) -> Result<(), RepoError>;
}
