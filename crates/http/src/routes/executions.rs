//! `/task-executions/{id}`, and waiting for a run (`Prefer: wait=N`, RFC 7240).

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use overseer_domain::{ExecutionId, ExecutionStatus, TaskExecution};
use overseer_services::RequestContext;
use serde::Deserialize;

use super::id;
use crate::HttpState;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::pagination::{ListView, PageQuery};
use crate::views::ExecutionView;

/// The longest wait a client may ask for.
const MAX_WAIT_SECONDS: u64 = 300;

/// `Prefer: wait=N` as seconds, if present.
pub(crate) fn wait_seconds(req: &HttpRequest) -> Result<Option<u64>, ApiError> {
    let Some(prefer) = req.headers().get("prefer").and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(value) = prefer
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("wait="))
    else {
        return Ok(None);
    };
    match value.trim().parse::<u64>() {
        Ok(seconds) if seconds <= MAX_WAIT_SECONDS => Ok(Some(seconds)),
        _ => Err(ApiError::invalid(
            "Prefer",
            format!("wait must be 0 to {MAX_WAIT_SECONDS} seconds"),
        )),
    }
}

/// The execution once it has ended, or after `seconds`.
pub(crate) async fn wait_for_end(
    state: &HttpState,
    ctx: &RequestContext,
    id: ExecutionId,
    seconds: u64,
) -> Result<TaskExecution, ApiError> {
    Ok(state
        .services
        .tasks
        .wait_for_end(ctx, id, Duration::from_secs(seconds))
        .await?)
}

#[utoipa::path(get, path = "/api/v1/task-executions/{id}", tag = "task-executions", responses((status = 200, description = "The execution", body = ExecutionView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "task execution id"), ("prefer" = Option<String>, Header, description = "wait=N (0 to 300 s)")), security(("bearer" = [])))]
#[get("/task-executions/{id}")]
pub(crate) async fn get_one(
    req: HttpRequest,
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let execution_id = id::<ExecutionId>(&path, "task execution")?;
    let execution = match wait_seconds(&req)? {
        Some(seconds) => wait_for_end(&state, &ctx, execution_id, seconds).await?,
        None => state.services.tasks.execution(&ctx, execution_id).await?,
    };
    Ok(HttpResponse::Ok().json(ExecutionView::from(execution)))
}

/// 202: a pending run is cancelled at once, a running one is interrupted and ends
/// `cancelled` shortly; cancelling again changes nothing.
#[utoipa::path(post, path = "/api/v1/task-executions/{id}/cancel", tag = "task-executions", responses((status = 202, description = "Cancelled, or being cancelled", body = ExecutionView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "task execution id")), security(("bearer" = [])))]
#[post("/task-executions/{id}/cancel")]
pub(crate) async fn cancel(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let execution = state
        .services
        .tasks
        .cancel(&ctx, id::<ExecutionId>(&path, "task execution")?)
        .await?;
    Ok(HttpResponse::Accepted().json(ExecutionView::from(execution)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecutionsQuery {
    status: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/task-executions", tag = "task-executions", responses((status = 200, description = "Executions across tasks, newest first: the caller's, or everyone's for an admin", body = ListView<ExecutionView>), crate::problem_responses::Errors), params(("status" = Option<String>, Query, description = "pending, running, completed, failed or cancelled"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"), ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "rows to skip")), security(("bearer" = [])))]
#[get("/task-executions")]
pub(crate) async fn list(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    query: web::Query<ExecutionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        offset: query.offset,
    }
    .to_request()?;
    let status = query
        .status
        .as_deref()
        .map(str::parse::<ExecutionStatus>)
        .transpose()?;
    let found = state
        .services
        .tasks
        .all_executions(&ctx, status, page)
        .await?;
    Ok(HttpResponse::Ok().json(ListView::from_page(found, page, ExecutionView::from)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(get_one).service(cancel);
}
