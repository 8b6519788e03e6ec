//! Webhooks: `POST /tasks/{id}/webhook-secret` issues (or rotates) a task's signing secret;
//! `POST /hooks/tasks/{id}` runs the task from a signed request, without a bearer token.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, post, web};
use overseer_domain::TaskId;
use overseer_services::{Delivery, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use serde::Serialize;

use crate::HttpState;
use crate::caller::{Caller, origin};
use crate::error::ApiError;
use crate::routes::id;
use crate::views::{ExecutionView, execution_path};

/// Largest webhook body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// A new signing secret: shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookSecret {
    pub secret: String,
    /// Where to send signed requests.
    pub url: String,
    /// Header holding `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
    pub signature_header: &'static str,
    /// Header holding the Unix time of signing (within 300 s of the server's clock).
    pub timestamp_header: &'static str,
}

#[utoipa::path(post, path = "/api/v1/tasks/{id}/webhook-secret", tag = "webhooks", responses((status = 201, description = "A new secret (the old one stops working); shown only now", body = WebhookSecret), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "task id")), security(("bearer" = [])))]
#[post("/tasks/{id}/webhook-secret")]
pub(crate) async fn rotate_secret(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let task = id::<TaskId>(&path, "task")?;
    let secret = state.services.webhooks.rotate_secret(&ctx, task).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(WebhookSecret {
            secret,
            url: format!("/api/v1/hooks/tasks/{task}"),
            signature_header: SIGNATURE_HEADER,
            timestamp_header: TIMESTAMP_HEADER,
        }))
}

/// The body is the run's variables as a JSON object. 401 for a bad, missing, stale or
/// replayed signature (and for an unknown task).
#[utoipa::path(post, path = "/api/v1/hooks/tasks/{id}", tag = "webhooks", request_body(content = Object, description = "the run's variables"), responses((status = 202, description = "Queued; Location names the execution", body = ExecutionView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "task id"), ("x-overseer-timestamp" = String, Header, description = "Unix seconds of signing"), ("x-overseer-signature" = String, Header, description = "sha256=<hex HMAC-SHA256(secret, \"<timestamp>.<body>\")>")))]
#[post("/hooks/tasks/{id}")]
pub(crate) async fn receive(
    req: HttpRequest,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(
            "body",
            "max_webhook_body_bytes",
            MAX_BODY_BYTES,
        ));
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let context = origin(
        &req,
        overseer_domain::UserId::from_uuid(uuid::Uuid::nil()),
        false,
    );
    let delivery = Delivery {
        task: id::<TaskId>(&path, "task")?,
        timestamp: header(TIMESTAMP_HEADER),
        signature: header(SIGNATURE_HEADER),
        body: &body,
        ip_address: context.ip_address.as_deref(),
        user_agent: context.user_agent.as_deref(),
    };
    let execution = state.services.webhooks.receive(delivery).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, execution_path(execution.id)))
        .json(ExecutionView::from(execution)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(rotate_secret).service(receive);
}
