//! The OpenAPI 3.1 document, generated from the handlers' annotations, and `/docs`.
//! `docs/openapi.json` holds the committed copy; a test fails when the two differ.

use actix_web::{HttpResponse, get, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::error::{FieldError, Problem};
use crate::routes;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Overseer", description = "Runs Claude Code agents as audited tasks behind a REST API."),
    paths(
        routes::auth::register, routes::auth::login, routes::auth::refresh, routes::auth::me, routes::auth::users,
        routes::tasks::create, routes::tasks::list, routes::tasks::get_one, routes::tasks::update,
        routes::tasks::remove, routes::tasks::execute, routes::tasks::executions,
        routes::executions::list, routes::executions::get_one, routes::executions::cancel,
        routes::sessions::create, routes::sessions::fork, routes::sessions::list, routes::sessions::get_one, routes::sessions::send,
        routes::sessions::messages, routes::sessions::tool_calls, routes::sessions::interrupt,
        routes::sessions::terminate, routes::sessions::archive, routes::sessions::answer_approval,
        routes::sessions::create_report, routes::sessions::stream_token, routes::sessions::transcript, routes::stream::stream,
        routes::approvals::list, routes::approvals::of_session,
        routes::approval_links::show, routes::approval_links::decide,
        routes::reports::get_one, routes::reports::download, routes::audit::list,
        routes::mcp_servers::create, routes::mcp_servers::list, routes::mcp_servers::get_one,
        routes::mcp_servers::update, routes::mcp_servers::remove,
        routes::notification_targets::create, routes::notification_targets::list, routes::notification_targets::get_one,
        routes::notification_targets::remove, routes::notification_targets::deliveries,
        routes::quotas::get_one, routes::quotas::set,
        routes::webhooks::rotate_secret, routes::webhooks::receive,
        crate::health::health, crate::metrics::metrics,
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "tasks", description = "Task definitions and their execution"),
        (name = "task-executions", description = "Runs of tasks"),
        (name = "sessions", description = "Conversations with an agent, live events, approvals"),
        (name = "reports", description = "Reports of sessions"),
        (name = "audit-logs", description = "The audit trail"),
        (name = "mcp-servers", description = "Registered MCP servers"),
        (name = "quotas", description = "Per-user limits on active runs and daily cost"),
        (name = "webhooks", description = "Signed requests that run a task"),
        (name = "approvals", description = "Tool uses waiting for a person, and those answered"),
        (name = "notifications", description = "Outbound notifications: targets and their deliveries, signed like inbound webhooks"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

/// The API document.
pub(crate) fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as pretty JSON (what `docs/openapi.json` holds).
#[must_use]
pub fn document_json() -> String {
    let mut json = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

#[get("/api/openapi.json")]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document_json())
}

/// `/docs` → `/docs/`, where Swagger UI lives.
#[get("/docs")]
async fn docs() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
        .finish()
}

/// Swagger UI served from the binary (its assets are vendored by `utoipa-swagger-ui`'s
/// `vendored` feature, from crates.io), pointed at `/api/openapi.json`; the online validator
/// is off, so the page loads nothing from elsewhere.
fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}").config(Config::new(["/api/openapi.json"]).validator_url("none"))
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(openapi_json)
        .service(docs)
        .service(swagger_ui());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `.ci/run` runs the tests: a document that differs from the committed one fails CI.
    /// Regenerate with `UPDATE_OPENAPI=1 cargo test -p overseer-http openapi`.
    #[test]
    fn the_committed_openapi_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let generated = document_json();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi.json is out of date: run UPDATE_OPENAPI=1 cargo test -p overseer-http openapi"
        );
    }

    #[test]
    fn every_route_is_documented() {
        let doc: serde_json::Value = serde_json::from_str(&document_json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/api/v1/tasks/{id}/execute",
            "/api/v1/sessions/{id}/stream",
            "/api/v1/sessions/{id}/fork",
            "/api/v1/approvals",
            "/api/v1/sessions/{id}/approvals",
            "/api/v1/mcp-servers/{id}",
            "/metrics",
        ] {
            assert!(paths.contains_key(path), "{path} missing");
        }
        let operations: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(operations, 53, "one operation per handler");
    }
}
