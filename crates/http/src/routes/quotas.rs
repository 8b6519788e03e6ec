//! `/users/{id}/quota`: a user's limits and budgets, and what they use of them today and this
//! month (the user or an admin); admins set them.

use actix_web::{HttpResponse, get, put, web};
use overseer_domain::{Quota, UsdBudget, UserId};
use overseer_services::QuotaStatus;
use serde::{Deserialize, Serialize};

use crate::HttpState;
use crate::body::JsonObject;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::routes::id;

/// Limits as set; `null` (or absent) leaves the service default in force.
#[derive(Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaLimits {
    /// Executions pending or running at once.
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub max_active_runs: Option<u32>,
    /// Agent cost per UTC day, in US dollars (greater than 0).
    pub max_daily_cost_usd: Option<f64>,
    /// Agent cost per UTC month, in US dollars (greater than 0).
    pub max_monthly_cost_usd: Option<f64>,
    /// A soft threshold per session, in US dollars (greater than 0): a session that has cost
    /// this much pauses on an approval "continue past $X?" instead of failing.
    pub ask_above_usd: Option<f64>,
}

impl From<Quota> for QuotaLimits {
    fn from(quota: Quota) -> Self {
        Self {
            max_active_runs: quota.max_active_runs,
            max_daily_cost_usd: quota.max_daily_cost_usd.map(UsdBudget::value),
            max_monthly_cost_usd: quota.max_monthly_cost_usd.map(UsdBudget::value),
            ask_above_usd: quota.ask_above_usd.map(UsdBudget::value),
        }
    }
}

/// A user's quota: own limits, limits in force, and today's and this month's usage.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuotaView {
    pub user_id: String,
    /// The user's own limits (`null`: the default applies).
    pub own: QuotaLimits,
    /// The limits in force (`null`: unlimited).
    pub effective: QuotaLimits,
    pub active_runs: u64,
    pub cost_today_usd: f64,
    /// What is left of today's budget (`null`: no budget).
    pub remaining_today_usd: Option<f64>,
    pub cost_this_month_usd: f64,
}

fn view(user: UserId, status: QuotaStatus) -> QuotaView {
    QuotaView {
        user_id: user.to_string(),
        own: status.own.into(),
        effective: status.effective.into(),
        active_runs: status.active_runs,
        cost_today_usd: status.cost_today_usd,
        remaining_today_usd: status.remaining_usd(),
        cost_this_month_usd: status.cost_this_month_usd,
    }
}

#[utoipa::path(get, path = "/api/v1/users/{id}/quota", tag = "quotas", responses((status = 200, description = "The user's limits and today's usage", body = QuotaView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "user id")), security(("bearer" = [])))]
#[get("/users/{id}/quota")]
pub(crate) async fn get_one(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user: UserId = id(&path, "user")?;
    let status = state.services.quotas.status(&ctx, user).await?;
    Ok(HttpResponse::Ok().json(view(user, status)))
}

#[utoipa::path(put, path = "/api/v1/users/{id}/quota", tag = "quotas", request_body = QuotaLimits, responses((status = 200, description = "The new limits and today's usage", body = QuotaView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "user id")), security(("bearer" = [])))]
#[put("/users/{id}/quota")]
pub(crate) async fn set(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    body: JsonObject<QuotaLimits>,
) -> Result<HttpResponse, ApiError> {
    let user: UserId = id(&path, "user")?;
    let limits = body.into_inner();
    let usd = |value: Option<f64>, field: &'static str| {
        value
            .map(UsdBudget::new)
            .transpose()
            .map_err(|e| ApiError::invalid(field, e.reason))
    };
    let quota = Quota {
        max_active_runs: limits.max_active_runs,
        max_daily_cost_usd: usd(limits.max_daily_cost_usd, "max_daily_cost_usd")?,
        max_monthly_cost_usd: usd(limits.max_monthly_cost_usd, "max_monthly_cost_usd")?,
        ask_above_usd: usd(limits.ask_above_usd, "ask_above_usd")?,
    };
    let status = state.services.quotas.set(&ctx, user, quota).await?;
    Ok(HttpResponse::Ok().json(view(user, status)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_one).service(set);
}
