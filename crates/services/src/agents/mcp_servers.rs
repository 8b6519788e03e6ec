//! Registered MCP servers: users manage their own; global ones (offered to everyone) are
//! created, changed and removed by admins only.

use overseer_domain::AuditAction;
use overseer_domain::{McpScope, McpServer, McpServerConfig, McpServerId, McpServerName};
use overseer_ports::{Page, PageRequest};
use serde_json::json;

use crate::audit::{AuditRecord, AuditService};
use crate::context::{Deps, RequestContext};
use crate::error::ServiceError;

/// Changes to a registered server; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct McpServerPatch {
    /// A new name (unique per owner).
    pub name: Option<McpServerName>,
    /// A new configuration.
    pub config: Option<McpServerConfig>,
    /// Turns the server on or off for new sessions.
    pub is_enabled: Option<bool>,
}

/// Registers MCP servers (a user's own, or global ones by admins) that sessions may use.
#[derive(Debug)]
pub struct McpServerService {
    deps: Deps,
    audit: AuditService,
}

fn may_change(ctx: &RequestContext, server: &McpServer) -> Result<(), ServiceError> {
    if server.scope == McpScope::Global && !ctx.is_admin {
        return Err(ServiceError::Forbidden(
            "global MCP servers are managed by admins",
        ));
    }
    Ok(())
}

impl McpServerService {
    /// The service over `deps`.
    #[must_use]
    pub fn new(deps: Deps) -> Self {
        Self {
            audit: AuditService::new(deps.clone()),
            deps,
        }
    }

    async fn audit(
        &self,
        ctx: &RequestContext,
        action: AuditAction,
        server: &McpServer,
    ) -> Result<(), ServiceError> {
        let record = AuditRecord {
            actor: Some(ctx.user_id),
            action,
            resource_type: "mcp_server",
            resource_id: Some(server.id.to_string()),
            details: json!({"name": server.name, "global": server.scope == McpScope::Global}),
        };
        self.audit.record(record, Some(ctx)).await
    }

    /// # Errors
    /// [`ServiceError::Forbidden`] for a global server by a non-admin; `Conflict` if the name
    /// is taken in that scope.
    pub async fn create(
        &self,
        ctx: &RequestContext,
        name: McpServerName,
        config: McpServerConfig,
        global: bool,
    ) -> Result<McpServer, ServiceError> {
        let now = self.deps.clock.now();
        let server = McpServer {
            id: McpServerId::from_uuid(self.deps.ids.new_id()),
            scope: if global {
                McpScope::Global
            } else {
                McpScope::User(ctx.user_id)
            },
            name,
            config,
            is_enabled: true,
            created_at: now,
            updated_at: now,
        };
        may_change(ctx, &server)?;
        self.deps.repos.mcp_servers.insert(&server).await?;
        self.audit(ctx, AuditAction::McpServerCreated, &server)
            .await?;
        Ok(server)
    }

    /// Own and global servers (all for an admin).
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn get(
        &self,
        ctx: &RequestContext,
        id: McpServerId,
    ) -> Result<McpServer, ServiceError> {
        Ok(self.deps.repos.mcp_servers.get(id, ctx.scope()).await?)
    }

    /// # Errors
    /// Storage errors.
    pub async fn list(
        &self,
        ctx: &RequestContext,
        page: PageRequest,
    ) -> Result<Page<McpServer>, ServiceError> {
        Ok(self.deps.repos.mcp_servers.list(ctx.scope(), page).await?)
    }

    /// # Errors
    /// `NotFound`; [`ServiceError::Forbidden`] for a global server by a non-admin; `Conflict`.
    pub async fn update(
        &self,
        ctx: &RequestContext,
        id: McpServerId,
        patch: McpServerPatch,
    ) -> Result<McpServer, ServiceError> {
        let mut server = self.get(ctx, id).await?;
        may_change(ctx, &server)?;
        server.name = patch.name.unwrap_or(server.name);
        server.config = patch.config.unwrap_or(server.config);
        server.is_enabled = patch.is_enabled.unwrap_or(server.is_enabled);
        server.updated_at = self.deps.clock.now();
        self.deps.repos.mcp_servers.update(&server).await?;
        self.audit(ctx, AuditAction::McpServerUpdated, &server)
            .await?;
        Ok(server)
    }

    /// # Errors
    /// `NotFound`; [`ServiceError::Forbidden`] for a global server by a non-admin.
    pub async fn delete(&self, ctx: &RequestContext, id: McpServerId) -> Result<(), ServiceError> {
        let server = self.get(ctx, id).await?;
        may_change(ctx, &server)?;
        self.deps.repos.mcp_servers.delete(id, ctx.scope()).await?;
        self.audit(ctx, AuditAction::McpServerDeleted, &server)
            .await
    }
}

#[cfg(test)]
mod tests {

    use overseer_testkit::{MemoryStore, fixtures};

    use super::*;

    async fn setup() -> (McpServerService, RequestContext, RequestContext) {
        let repos = MemoryStore::new().repositories();
        let admin = fixtures::user("admin@example.com");
        let user = fixtures::user("user@example.com");
        repos.users.insert(&admin).await.unwrap();
        repos.users.insert(&user).await.unwrap();
        let deps = Deps::system(repos);
        let admin = RequestContext {
            is_admin: true,
            ..RequestContext::internal(admin.id)
        };
        (
            McpServerService::new(deps),
            admin,
            RequestContext::internal(user.id),
        )
    }

    #[tokio::test]
    async fn globals_are_for_admins_to_change_and_for_everyone_to_see() {
        let (service, admin, user) = setup().await;
        let name = |n: &str| McpServerName::new(n).unwrap();
        let err = service
            .create(&user, name("docs"), McpServerConfig::Sdk, true)
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::Forbidden(_)));
        let global = service
            .create(&admin, name("docs"), McpServerConfig::Sdk, true)
            .await
            .unwrap();
        assert_eq!(
            service.get(&user, global.id).await.unwrap().id,
            global.id,
            "visible to users"
        );
        let patch = McpServerPatch {
            is_enabled: Some(false),
            ..McpServerPatch::default()
        };
        assert!(matches!(
            service.update(&user, global.id, patch.clone()).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            service.delete(&user, global.id).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(
            !service
                .update(&admin, global.id, patch)
                .await
                .unwrap()
                .is_enabled
        );

        let own = service
            .create(&user, name("k8s"), McpServerConfig::Sdk, false)
            .await
            .unwrap();
        service.delete(&user, own.id).await.unwrap();
        assert!(matches!(
            service.get(&user, own.id).await,
            Err(ServiceError::NotFound { .. })
        ));
        service.delete(&admin, global.id).await.unwrap();
    }
}
