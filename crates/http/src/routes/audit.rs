//! `/audit-logs`: admins see every entry, users their own.

use actix_web::{HttpResponse, get, web};
use overseer_domain::{AuditAction, ResourceType};
use overseer_ports::repositories::AuditFilter;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::HttpState;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::pagination::{ListView, PageQuery};
use crate::views::AuditView;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    action: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

fn time(field: &str, value: Option<String>) -> Result<Option<OffsetDateTime>, ApiError> {
    value
        .map(|v| {
            OffsetDateTime::parse(&v, &Rfc3339)
                .map_err(|_| ApiError::invalid(field, "must be an RFC 3339 time"))
        })
        .transpose()
}

#[utoipa::path(get, path = "/api/v1/audit-logs", tag = "audit-logs", responses((status = 200, description = "Audit entries, newest first (own, or all for admins)", body = ListView<AuditView>), crate::problem_responses::Errors), params(("action" = Option<String>, Query), ("resource_type" = Option<String>, Query), ("resource_id" = Option<String>, Query), ("since" = Option<String>, Query, description = "RFC 3339, inclusive"), ("until" = Option<String>, Query, description = "RFC 3339, exclusive"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"), ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "rows to skip")), security(("bearer" = [])))]
#[get("/audit-logs")]
pub(crate) async fn list(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .to_request()?;
    let filter = AuditFilter {
        action: q
            .action
            .as_deref()
            .map(str::parse::<AuditAction>)
            .transpose()?,
        resource_type: q.resource_type.map(ResourceType::new).transpose()?,
        resource_id: q.resource_id,
        since: time("since", q.since)?,
        until: time("until", q.until)?,
    };
    let entries = state.services.audit.list(&ctx, filter, page).await?;
    Ok(HttpResponse::Ok().json(ListView::from_page(entries, page, AuditView::from)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}
