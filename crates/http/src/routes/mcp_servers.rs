//! `/mcp-servers`: a user's own servers, and global ones (managed by admins).

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use overseer_domain::{McpScope, McpServer, McpServerConfig, McpServerId, McpServerName};
use overseer_services::McpServerPatch;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::id;
use crate::HttpState;
use crate::body::JsonObject;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::pagination::{ListView, PageQuery};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateServer {
    name: String,
    /// Claude Code's `mcpServers` entry: `{"type": "stdio", "command", "args", "env"}`, `{"type": "http"|"sse", "url", "headers"}` or `{"type": "sdk"}`.
    #[schema(value_type = Object)]
    config: Value,
    #[serde(default)]
    is_global: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateServer {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    config: Option<Value>,
    #[serde(default)]
    is_enabled: Option<bool>,
}

fn config(value: Value) -> Result<McpServerConfig, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::invalid("config", e.to_string()))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ServerView {
    id: String,
    name: String,
    is_global: bool,
    is_enabled: bool,
    #[schema(value_type = Object)]
    config: Value,
    created_at: String,
    updated_at: String,
}

/// Header and env values may hold credentials: a global server shows them to admins only.
fn redacted(mut config: Value) -> Value {
    for key in ["headers", "env"] {
        if let Some(Value::Object(values)) = config.get_mut(key) {
            let hidden: Map<String, Value> = values
                .keys()
                .map(|k| (k.clone(), Value::String("<redacted>".into())))
                .collect();
            *values = hidden;
        }
    }
    config
}

fn view(server: McpServer, admin: bool) -> ServerView {
    let global = server.scope == McpScope::Global;
    let config = serde_json::to_value(&server.config).unwrap_or(Value::Null);
    let stamp = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    ServerView {
        id: server.id.to_string(),
        name: server.name.to_string(),
        is_global: global,
        is_enabled: server.is_enabled,
        config: if global && !admin {
            redacted(config)
        } else {
            config
        },
        created_at: stamp(server.created_at),
        updated_at: stamp(server.updated_at),
    }
}

#[utoipa::path(post, path = "/api/v1/mcp-servers", tag = "mcp-servers", request_body = CreateServer, responses((status = 201, description = "The server", body = ServerView), crate::problem_responses::Errors), security(("bearer" = [])))]
#[post("/mcp-servers")]
pub(crate) async fn create(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    body: JsonObject<CreateServer>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let server = state
        .services
        .mcp_servers
        .create(
            &ctx,
            McpServerName::new(body.name)?,
            config(body.config)?,
            body.is_global,
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/mcp-servers/{}", server.id),
        ))
        .json(view(server, ctx.is_admin)))
}

#[utoipa::path(get, path = "/api/v1/mcp-servers", tag = "mcp-servers", responses((status = 200, description = "Own and global servers", body = ListView<ServerView>), crate::problem_responses::Errors), params(("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"), ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "rows to skip")), security(("bearer" = [])))]
#[get("/mcp-servers")]
pub(crate) async fn list(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().to_request()?;
    let servers = state.services.mcp_servers.list(&ctx, page).await?;
    let admin = ctx.is_admin;
    Ok(HttpResponse::Ok().json(ListView::from_page(servers, page, |s| view(s, admin))))
}

#[utoipa::path(get, path = "/api/v1/mcp-servers/{id}", tag = "mcp-servers", responses((status = 200, description = "The server", body = ServerView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "MCP server id")), security(("bearer" = [])))]
#[get("/mcp-servers/{id}")]
pub(crate) async fn get_one(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let server = state
        .services
        .mcp_servers
        .get(&ctx, id::<McpServerId>(&path, "MCP server")?)
        .await?;
    Ok(HttpResponse::Ok().json(view(server, ctx.is_admin)))
}

#[utoipa::path(patch, path = "/api/v1/mcp-servers/{id}", tag = "mcp-servers", request_body = UpdateServer, responses((status = 200, description = "The updated server", body = ServerView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "MCP server id")), security(("bearer" = [])))]
#[patch("/mcp-servers/{id}")]
pub(crate) async fn update(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    body: JsonObject<UpdateServer>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let patch = McpServerPatch {
        name: body.name.map(McpServerName::new).transpose()?,
        config: body.config.map(config).transpose()?,
        is_enabled: body.is_enabled,
    };
    let server = state
        .services
        .mcp_servers
        .update(&ctx, id::<McpServerId>(&path, "MCP server")?, patch)
        .await?;
    Ok(HttpResponse::Ok().json(view(server, ctx.is_admin)))
}

#[utoipa::path(delete, path = "/api/v1/mcp-servers/{id}", tag = "mcp-servers", responses((status = 204, description = "Removed"), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "MCP server id")), security(("bearer" = [])))]
#[delete("/mcp-servers/{id}")]
pub(crate) async fn remove(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .mcp_servers
        .delete(&ctx, id::<McpServerId>(&path, "MCP server")?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(update)
        .service(remove);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::redacted;

    #[test]
    fn header_and_env_values_are_hidden() {
        let config = json!({"type": "http", "url": "https://x", "headers": {"Authorization": "Bearer secret"}});
        assert_eq!(
            redacted(config)["headers"]["Authorization"],
            json!("<redacted>")
        );
        let config = json!({"type": "stdio", "command": "x", "env": {"TOKEN": "secret"}});
        assert_eq!(redacted(config)["env"]["TOKEN"], json!("<redacted>"));
    }
}
