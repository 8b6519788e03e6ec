//! The authenticated caller, extracted from `Authorization: Bearer <access token>`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use overseer_domain::Role;
use overseer_services::RequestContext;

use crate::HttpState;
use crate::error::ApiError;

/// A request context for an authenticated user, with the request's origin.
#[derive(Clone, Debug)]
pub struct Caller(pub RequestContext);

/// The request's origin, for audit entries of unauthenticated calls.
pub fn origin(req: &HttpRequest, user: overseer_domain::UserId, is_admin: bool) -> RequestContext {
    RequestContext {
        user_id: user,
        is_admin,
        ip_address: req
            .connection_info()
            .realip_remote_addr()
            .map(str::to_owned),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect()),
    }
}

/// The bearer token of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|token| token.trim().to_owned())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<HttpState>>()
                .ok_or_else(ApiError::unauthorized)?
                .clone();
            let token = bearer(&req).ok_or_else(ApiError::unauthorized)?;
            let caller = state.auth.authenticate(&token).await?;
            tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
            Ok(Self(origin(
                &req,
                caller.user_id,
                caller.role == Role::Admin,
            )))
        })
    }
}
