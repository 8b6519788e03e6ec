use async_trait::async_trait;
use overseer_domain::{McpScope, McpServer, McpServerId, McpServerName, UserId};
use overseer_ports::repositories::McpServerRepository;
use overseer_ports::{Page, PageRequest, RepoError, Scope};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Select,
};

use crate::convert::{corrupt, fetch_all, fetch_page, unavailable, write_err};
use crate::entities::mcp_servers::{ActiveModel, Column, Entity, Model};

const ENTITY: &str = "MCP server";
const GLOBAL_OWNER_KEY: &str = "global";

#[derive(Debug)]
pub(crate) struct SqlMcpServers(pub(crate) DatabaseConnection);

fn owner_key(scope: McpScope) -> String {
    scope
        .owner()
        .map_or_else(|| GLOBAL_OWNER_KEY.to_owned(), |user| user.to_string())
}

fn to_model(server: &McpServer) -> Result<Model, RepoError> {
    Ok(Model {
        id: server.id.as_uuid(),
        user_id: server.scope.owner().map(|id| id.as_uuid()),
        owner_key: owner_key(server.scope),
        name: server.name.to_string(),
        config: serde_json::to_value(&server.config).map_err(|e| corrupt(ENTITY)(&e))?,
        is_global: server.scope == McpScope::Global,
        is_enabled: server.is_enabled,
        created_at: server.created_at,
        updated_at: server.updated_at,
    })
}

fn to_domain(row: Model) -> Result<McpServer, RepoError> {
    let bad = corrupt(ENTITY);
    let scope = match (row.is_global, row.user_id) {
        (true, None) => McpScope::Global,
        (false, Some(user)) => McpScope::User(UserId::from_uuid(user)),
        _ => return Err(bad(&"is_global and user_id disagree")),
    };
    Ok(McpServer {
        id: McpServerId::from_uuid(row.id),
        scope,
        name: McpServerName::new(row.name).map_err(|e| bad(&e))?,
        config: serde_json::from_value(row.config).map_err(|e| bad(&e))?,
        is_enabled: row.is_enabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The servers a scope can see: its owner's and the global ones, or all for an admin.
fn visible(select: Select<Entity>, scope: Scope) -> Select<Entity> {
    match scope {
        Scope::Owner(user) => select.filter(
            Condition::any()
                .add(Column::UserId.eq(user.as_uuid()))
                .add(Column::IsGlobal.eq(true)),
        ),
        Scope::Admin => select,
    }
}

#[async_trait]
impl McpServerRepository for SqlMcpServers {
    async fn insert(&self, server: &McpServer) -> Result<(), RepoError> {
        Entity::insert(to_model(server)?.into_active_model())
            .exec_without_returning(&self.0)
            .await
            .map_err(write_err(ENTITY, "user"))?;
        Ok(())
    }

    async fn get(&self, id: McpServerId, scope: Scope) -> Result<McpServer, RepoError> {
        visible(Entity::find_by_id(id.as_uuid()), scope)
            .one(&self.0)
            .await
            .map_err(unavailable)?
            .ok_or(RepoError::NotFound { entity: ENTITY })
            .and_then(to_domain)
    }

    async fn list(&self, scope: Scope, page: PageRequest) -> Result<Page<McpServer>, RepoError> {
        let select = visible(Entity::find(), scope)
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id);
        fetch_page(&self.0, select, page, to_domain).await
    }

    async fn list_enabled_for(&self, user: UserId) -> Result<Vec<McpServer>, RepoError> {
        let select = visible(Entity::find(), Scope::Owner(user))
            .filter(Column::IsEnabled.eq(true))
            .order_by_asc(Column::Name)
            .order_by_asc(Column::IsGlobal);
        fetch_all(&self.0, select, to_domain).await
    }

    async fn update(&self, server: &McpServer) -> Result<(), RepoError> {
        let row = to_model(server)?;
        let changes = ActiveModel {
            name: Set(row.name),
            config: Set(row.config),
            is_enabled: Set(row.is_enabled),
            updated_at: Set(row.updated_at),
            ..Default::default()
        };
        let result = Entity::update_many()
            .set(changes)
            .filter(Column::Id.eq(row.id))
            .exec(&self.0)
            .await
            .map_err(write_err(ENTITY, ENTITY))?;
        if result.rows_affected == 0 {
            return Err(RepoError::NotFound { entity: ENTITY });
        }
        Ok(())
    }

    async fn delete(&self, id: McpServerId, scope: Scope) -> Result<(), RepoError> {
        let delete = Entity::delete_many().filter(Column::Id.eq(id.as_uuid()));
        let delete = match scope {
            Scope::Owner(user) => delete.filter(Column::UserId.eq(user.as_uuid())),
            Scope::Admin => delete,
        };
        let result = delete.exec(&self.0).await.map_err(unavailable)?;
        if result.rows_affected == 0 {
            return Err(RepoError::NotFound { entity: ENTITY });
        }
        Ok(())
    }
}
