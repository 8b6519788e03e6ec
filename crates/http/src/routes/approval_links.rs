//! `/approval-links/{id}/{allow|deny}?token=…`: the one-tap links of `approval.requested`
//! notifications. A GET shows the approval and a button (it decides nothing, so a link
//! preview or scanner cannot answer); the button's POST decides, as the approval's owner,
//! with no bearer token. Tampered, expired or another approval's tokens are a 401; a link
//! whose approval was answered or expired is a 410. Answers are small HTML pages.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use overseer_domain::{Approval, ApprovalId};
use overseer_services::ServiceError;
use serde::Deserialize;

use super::id;
use crate::HttpState;
use crate::caller::origin;
use crate::error::ApiError;

#[derive(Deserialize)]
struct LinkQuery {
    token: String,
}

/// What a page may do: show itself and post its own form.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}}\
         pre{{white-space:pre-wrap;word-break:break-word;background:#f4f4f5;padding:.75rem;border-radius:.4rem}}\
         button{{font-size:1.1rem;padding:.7rem 1.4rem;border-radius:.4rem;border:0;color:#fff;background:#1d6fa5}}\
         button.deny{{background:#a53d1d}}</style></head><body><h1>{title}</h1>{body}</body></html>",
        title = escape(title)
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_POLICY),
        ))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}

/// The page for a link that cannot be used, by why.
fn refused(err: ServiceError) -> HttpResponse {
    match err {
        ServiceError::Gone(_) => page(
            StatusCode::GONE,
            "This link has been used",
            "<p>The approval was already answered, or it expired. Nothing was changed.</p>",
        ),
        ServiceError::Unauthorized => page(
            StatusCode::UNAUTHORIZED,
            "This link is not valid",
            "<p>The link is not this approval's, has expired, or was altered. Nothing was changed.</p>",
        ),
        other => {
            let status = actix_web::ResponseError::status_code(&ApiError::from(other));
            page(
                status,
                "Something went wrong",
                "<p>Nothing was changed. Try again, or answer in Overseer.</p>",
            )
        }
    }
}

/// The approval and decision a link's path names (`allow` → true).
fn link_of(path: web::Path<(String, String)>) -> Result<(ApprovalId, bool, String), ApiError> {
    let (approval_id, decided) = path.into_inner();
    let approval_id: ApprovalId = id(&approval_id, "approval")?;
    let allow = match decided.as_str() {
        "allow" => true,
        "deny" => false,
        _ => return Err(ApiError::not_found("approval link")),
    };
    Ok((approval_id, allow, decided))
}

fn describe(approval: &Approval) -> String {
    let input = serde_json::to_string_pretty(&approval.tool_input).unwrap_or_default();
    format!(
        "<p>The agent asks to run <strong>{}</strong>:</p><pre>{}</pre>",
        escape(&approval.tool_name),
        escape(&input)
    )
}

#[utoipa::path(get, path = "/api/v1/approval-links/{id}/{decision}", tag = "notifications", responses((status = 200, description = "An HTML page showing the approval and a button that answers it (the GET itself decides nothing)"), (status = 401, description = "The token is not this link's (tampered, expired, another approval's or decision's)"), (status = 410, description = "The approval was already answered or expired")), params(("id" = uuid::Uuid, Path, description = "approval id"), ("decision" = String, Path, description = "allow or deny"), ("token" = String, Query, description = "the link's signed token")))]
#[get("/approval-links/{id}/{decision}")]
pub(crate) async fn show(
    state: web::Data<HttpState>,
    path: web::Path<(String, String)>,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let (approval_id, allow, decided) = link_of(path)?;
    let token = &query.token;
    Ok(
        match state
            .services
            .approvals
            .link_target(approval_id, allow, token)
            .await
        {
            Ok(approval) => {
                let (verb, class) = if allow {
                    ("Approve", "")
                } else {
                    ("Deny", "deny")
                };
                let action = format!(
                    "/api/v1/approval-links/{approval_id}/{decided}?token={}",
                    escape(token)
                );
                let body = format!(
                    "{}<form method=\"post\" action=\"{action}\"><button type=\"submit\" class=\"{class}\">{verb}</button></form>",
                    describe(&approval)
                );
                page(StatusCode::OK, &format!("{verb} this tool use?"), &body)
            }
            Err(err) => refused(err),
        },
    )
}

#[utoipa::path(post, path = "/api/v1/approval-links/{id}/{decision}", tag = "notifications", responses((status = 200, description = "Decided, as the approval's owner (audited as via link); an HTML page says so"), (status = 401, description = "The token is not this link's"), (status = 410, description = "The approval was already answered or expired: nothing changed")), params(("id" = uuid::Uuid, Path, description = "approval id"), ("decision" = String, Path, description = "allow or deny"), ("token" = String, Query, description = "the link's signed token")))]
#[post("/approval-links/{id}/{decision}")]
pub(crate) async fn decide(
    req: HttpRequest,
    state: web::Data<HttpState>,
    path: web::Path<(String, String)>,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let (approval_id, allow, _) = link_of(path)?;
    // Who clicked is not known: the audit entry keeps the address and user agent.
    let ctx = origin(
        &req,
        overseer_domain::UserId::from_uuid(uuid::Uuid::nil()),
        false,
    );
    Ok(
        match state
            .services
            .approvals
            .decide_by_link(approval_id, allow, &query.token, Some(&ctx))
            .await
        {
            Ok(approval) => {
                let title = if allow { "Approved" } else { "Denied" };
                page(
                    StatusCode::OK,
                    title,
                    &format!("{}<p>Done. The agent goes on.</p>", describe(&approval)),
                )
            }
            Err(err) => refused(err),
        },
    )
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(decide);
}
