//! MCP servers registered by users or, globally, by admins.

use time::OffsetDateTime;

use crate::agent_options::{McpServerConfig, McpServerName};
use crate::ids::{McpServerId, UserId};

/// Who an MCP server belongs to. A global server is offered to every user; a user's own server
/// of the same name shadows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum McpScope {
    Global,
    User(UserId),
}

impl McpScope {
    #[must_use]
    pub fn owner(self) -> Option<UserId> {
        match self {
            Self::Global => None,
            Self::User(id) => Some(id),
        }
    }
}

/// A registered MCP server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McpServer {
    pub id: McpServerId,
    pub scope: McpScope,
    pub name: McpServerName,
    pub config: McpServerConfig,
    pub is_enabled: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}
