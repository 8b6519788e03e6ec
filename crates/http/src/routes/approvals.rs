//! `/approvals` (the caller's across sessions, or everyone's for an admin) and
//! `/sessions/{id}/approvals`: tool uses waiting for a person, and those answered.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};
use overseer_domain::{Approval, ApprovalStatus};
use overseer_services::ApprovalOwners;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::id;
use crate::HttpState;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::pagination::{ListView, PageQuery};
use crate::views::{Link, at};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalsQuery {
    status: Option<String>,
    /// `true`: everyone's (admins only).
    all: Option<bool>,
    limit: Option<u32>,
    offset: Option<u64>,
}

impl ApprovalsQuery {
    fn parts(
        self,
    ) -> Result<(Option<ApprovalStatus>, bool, overseer_ports::PageRequest), ApiError> {
        let page = PageQuery {
            limit: self.limit,
            offset: self.offset,
        }
        .to_request()?;
        let status = self
            .status
            .as_deref()
            .map(str::parse::<ApprovalStatus>)
            .transpose()?;
        Ok((status, self.all.unwrap_or(false), page))
    }
}

/// A tool use, or a session at its budget threshold, waiting for (or answered by) a person.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApprovalView {
    pub id: String,
    pub session_id: String,
    /// `tool_use` (`tool_name` with `tool_input`) or `budget` (may the session go on past
    /// its owner's threshold? `tool_input` is `{"threshold_usd", "spent_usd"}`).
    pub kind: String,
    pub tool_name: String,
    #[schema(value_type = Object)]
    pub tool_input: Value,
    pub tool_use_id: Option<String>,
    /// `pending`, `allowed`, `denied` or `expired`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    /// When a pending approval is denied unanswered.
    pub expires_at: String,
    pub created_at: String,
    /// `session`, and `answer` (POST `{"decision": "allow" | "deny"}`).
    #[serde(rename = "_links")]
    #[schema(value_type = Object)]
    pub links: BTreeMap<&'static str, Link>,
}

impl From<Approval> for ApprovalView {
    fn from(a: Approval) -> Self {
        let session = format!("/api/v1/sessions/{}", a.session_id);
        Self {
            links: BTreeMap::from([
                (
                    "answer",
                    Link {
                        href: format!("{session}/approvals/{}", a.id),
                    },
                ),
                ("session", Link { href: session }),
            ]),
            id: a.id.to_string(),
            session_id: a.session_id.to_string(),
            status: a.status().to_string(),
            kind: a.kind.to_string(),
            tool_name: a.tool_name,
            tool_input: a.tool_input,
            tool_use_id: a.tool_use_id,
            decided_by: a.decided_by.map(|u| u.to_string()),
            decided_at: a.decided_at.map(at),
            expires_at: at(a.expires_at),
            created_at: at(a.created_at),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals", responses((status = 200, description = "Approvals of the caller's sessions (or, with all=true, everyone's: admins only), newest first", body = ListView<ApprovalView>), crate::problem_responses::Errors), params(("status" = Option<String>, Query, description = "pending, allowed, denied or expired"), ("all" = Option<bool>, Query, description = "everyone's (admins only)"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"), ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "rows to skip")), security(("bearer" = [])))]
#[get("/approvals")]
pub(crate) async fn list(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    query: web::Query<ApprovalsQuery>,
) -> Result<HttpResponse, ApiError> {
    let (status, all, page) = query.into_inner().parts()?;
    let owners = if all {
        ApprovalOwners::Everyone
    } else {
        ApprovalOwners::Caller
    };
    let found = state
        .services
        .sessions
        .approvals(&ctx, owners, status, page)
        .await?;
    Ok(HttpResponse::Ok().json(ListView::from_page(found, page, ApprovalView::from)))
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/approvals", tag = "approvals", responses((status = 200, description = "The session's approvals, newest first", body = ListView<ApprovalView>), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id"), ("status" = Option<String>, Query, description = "pending, allowed, denied or expired"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"), ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "rows to skip")), security(("bearer" = [])))]
#[get("/sessions/{id}/approvals")]
pub(crate) async fn of_session(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    query: web::Query<ApprovalsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    if query.all.is_some() {
        return Err(ApiError::invalid("all", "applies to /approvals only"));
    }
    let (status, _, page) = query.parts()?;
    let found = state
        .services
        .sessions
        .session_approvals(&ctx, id(&path, "session")?, status, page)
        .await?;
    Ok(HttpResponse::Ok().json(ListView::from_page(found, page, ApprovalView::from)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(of_session);
}
