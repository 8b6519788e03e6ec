//! `/auth`: register, login, refresh, me.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use overseer_domain::UserId;
use overseer_services::TokenPair;
use serde::Deserialize;
use uuid::Uuid;

use crate::HttpState;
use crate::body::JsonObject;
use crate::caller::{Caller, origin};
use crate::error::ApiError;
use crate::pagination::{ListView, PageQuery};
use crate::views::{TokenView, UserView};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

fn tokens(pair: TokenPair) -> TokenView {
    TokenView {
        access_token: pair.access_token,
        refresh_token: pair.refresh_token,
        token_type: "Bearer",
        expires_in: pair.expires_in_seconds,
    }
}

/// Audit entries of anonymous calls carry the origin under the nil user.
fn anonymous(req: &HttpRequest) -> overseer_services::RequestContext {
    origin(req, UserId::from_uuid(Uuid::nil()), false)
}

#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = Credentials, responses((status = 201, description = "The new account (the first one is an admin)", body = UserView), crate::problem_responses::Errors))]
#[post("/auth/register")]
pub(crate) async fn register(
    req: HttpRequest,
    state: web::Data<HttpState>,
    body: JsonObject<Credentials>,
) -> Result<HttpResponse, ApiError> {
    state.throttles.register.admit(&req)?;
    let ctx = anonymous(&req);
    let user = state
        .auth
        .register(&body.email, &body.password, Some(&ctx))
        .await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Credentials, responses((status = 200, description = "Access and refresh tokens", body = TokenView), crate::problem_responses::Errors))]
#[post("/auth/login")]
pub(crate) async fn login(
    req: HttpRequest,
    state: web::Data<HttpState>,
    body: JsonObject<Credentials>,
) -> Result<HttpResponse, ApiError> {
    state.throttles.login.admit(&req)?;
    let pair = state
        .auth
        .login(&body.email, &body.password, &anonymous(&req))
        .await?;
    Ok(HttpResponse::Ok().json(tokens(pair)))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest, responses((status = 200, description = "New tokens", body = TokenView), crate::problem_responses::Errors))]
#[post("/auth/refresh")]
pub(crate) async fn refresh(
    state: web::Data<HttpState>,
    body: JsonObject<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let pair = state.auth.refresh(&body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(tokens(pair)))
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, description = "The caller", body = UserView), crate::problem_responses::Errors), security(("bearer" = [])))]
#[get("/auth/me")]
pub(crate) async fn me(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(UserView::from(state.auth.me(&ctx).await?)))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "auth", responses((status = 200, description = "Every account, newest first (admins only)", body = ListView<UserView>), crate::problem_responses::Errors), params(("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"), ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "rows to skip")), security(("bearer" = [])))]
#[get("/users")]
pub(crate) async fn users(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().to_request()?;
    let found = state.auth.users(&ctx, page).await?;
    Ok(HttpResponse::Ok().json(ListView::from_page(found, page, UserView::from)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(register)
        .service(login)
        .service(refresh)
        .service(me)
        .service(users);
}
