//! `/notification-targets`: URLs that hear about approvals and finished runs, and each
//! one's deliveries.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, post, web};
use overseer_domain::{
    Delivery, HttpUrl, NotificationEvent, NotificationFormat, NotificationTarget,
    NotificationTargetId,
};
use overseer_services::NewTarget;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::id;
use crate::HttpState;
use crate::body::JsonObject;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::pagination::{ListView, PageQuery};
use crate::views::{Link, at};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateTarget {
    /// Where deliveries are POSTed (http or https).
    url: String,
    /// Any of `approval.requested`, `approval.decided`, `execution.finished`,
    /// `budget.threshold`.
    events: Vec<String>,
    /// `json` (default: signed Overseer documents) or `slack` (an incoming-webhook body).
    #[serde(default)]
    format: Option<String>,
    /// Everyone's events (admins only).
    #[serde(default)]
    global: bool,
}

/// A notification target (its secret is shown once, when it is created).
#[derive(Serialize, utoipa::ToSchema)]
struct TargetView {
    id: String,
    url: String,
    events: Vec<String>,
    format: String,
    global: bool,
    created_at: String,
    /// The signing secret: present only in the answer to the creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    /// `self`, `deliveries`.
    #[serde(rename = "_links")]
    #[schema(value_type = Object)]
    links: BTreeMap<&'static str, Link>,
}

fn view(target: NotificationTarget, with_secret: bool) -> TargetView {
    let path = format!("/api/v1/notification-targets/{}", target.id);
    TargetView {
        links: BTreeMap::from([
            (
                "deliveries",
                Link {
                    href: format!("{path}/deliveries"),
                },
            ),
            ("self", Link { href: path }),
        ]),
        id: target.id.to_string(),
        url: target.url.as_str().to_owned(),
        events: target
            .events
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect(),
        format: target.format.as_str().to_owned(),
        global: target.owner.is_none(),
        created_at: at(target.created_at),
        secret: with_secret.then_some(target.secret),
    }
}

/// One delivery of one event to a target.
#[derive(Serialize, utoipa::ToSchema)]
struct DeliveryView {
    /// The same on every attempt (receivers drop duplicates by it).
    id: String,
    event: String,
    /// `pending`, `delivered` or `failed` (given up).
    status: String,
    attempts: u32,
    /// When the next attempt is due (pending only).
    next_attempt_at: Option<String>,
    last_error: Option<String>,
    created_at: String,
    delivered_at: Option<String>,
    /// The body as sent.
    #[schema(value_type = Object)]
    body: Value,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        let pending = d.status == overseer_domain::DeliveryStatus::Pending;
        Self {
            id: d.id.to_string(),
            event: d.event.as_str().to_owned(),
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: pending.then(|| at(d.next_attempt_at)),
            last_error: d.last_error,
            created_at: at(d.created_at),
            delivered_at: d.delivered_at.map(at),
            body: d.body,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/notification-targets", tag = "notifications", request_body = CreateTarget, responses((status = 201, description = "The target, with its signing secret (shown this once)", body = TargetView), crate::problem_responses::Errors), security(("bearer" = [])))]
#[post("/notification-targets")]
pub(crate) async fn create(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    body: JsonObject<CreateTarget>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let events = body
        .events
        .iter()
        .map(|e| e.parse::<NotificationEvent>())
        .collect::<Result<Vec<_>, _>>()?;
    let format = body
        .format
        .as_deref()
        .map_or(Ok(NotificationFormat::Json), str::parse)?;
    let new = NewTarget {
        url: HttpUrl::new(body.url)?,
        events,
        format,
        global: body.global,
    };
    let target = state
        .services
        .notifications
        .create_target(&ctx, new)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/notification-targets/{}", target.id),
        ))
        .json(view(target, true)))
}

#[utoipa::path(get, path = "/api/v1/notification-targets", tag = "notifications", responses((status = 200, description = "The caller's targets (an admin's: every target), newest first", body = ListView<TargetView>), crate::problem_responses::Errors), params(("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"), ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "rows to skip")), security(("bearer" = [])))]
#[get("/notification-targets")]
pub(crate) async fn list(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().to_request()?;
    let targets = state.services.notifications.targets(&ctx, page).await?;
    Ok(HttpResponse::Ok().json(ListView::from_page(targets, page, |t| view(t, false))))
}

#[utoipa::path(get, path = "/api/v1/notification-targets/{id}", tag = "notifications", responses((status = 200, description = "The target", body = TargetView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "notification target id")), security(("bearer" = [])))]
#[get("/notification-targets/{id}")]
pub(crate) async fn get_one(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: NotificationTargetId = id(&path, "notification target")?;
    let target = state.services.notifications.target(&ctx, id).await?;
    Ok(HttpResponse::Ok().json(view(target, false)))
}

#[utoipa::path(delete, path = "/api/v1/notification-targets/{id}", tag = "notifications", responses((status = 204, description = "Removed, with its deliveries"), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "notification target id")), security(("bearer" = [])))]
#[delete("/notification-targets/{id}")]
pub(crate) async fn remove(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: NotificationTargetId = id(&path, "notification target")?;
    state.services.notifications.delete_target(&ctx, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/notification-targets/{id}/deliveries", tag = "notifications", responses((status = 200, description = "The target's deliveries, newest first: status, attempts, last error", body = ListView<DeliveryView>), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "notification target id"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"), ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "rows to skip")), security(("bearer" = [])))]
#[get("/notification-targets/{id}/deliveries")]
pub(crate) async fn deliveries(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let id: NotificationTargetId = id(&path, "notification target")?;
    let page = query.into_inner().to_request()?;
    let found = state
        .services
        .notifications
        .deliveries(&ctx, id, page)
        .await?;
    Ok(HttpResponse::Ok().json(ListView::from_page(found, page, DeliveryView::from)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(remove)
        .service(deliveries);
}
