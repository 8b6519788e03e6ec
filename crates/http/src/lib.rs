//! The HTTP adapter (actix-web): the REST API under `/api/v1`, the live stream, health.
//! Handlers call services; errors become problem+json in one place ([`error`]).

mod body;
mod caller;
mod console;
pub mod error;
mod fallback;
mod health;
mod message_view;
pub mod metrics;
pub mod openapi;
mod pagination;
mod problem_responses;
pub mod request_log;
mod routes;
pub mod throttle;
mod views;

use std::sync::Arc;

use actix_web::web;
use overseer_ports::{EventSubscriber, HealthProbe};
use overseer_services::AuthService;
use overseer_services::Services;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the HTTP layer needs from the rest of the application.
#[derive(Clone)]
pub struct HttpState {
    pub services: Services,
    pub auth: Arc<AuthService>,
    /// Where the live streams subscribe (any broadcaster that also lets them subscribe).
    pub live: Arc<dyn EventSubscriber>,
    pub health_probes: Vec<Arc<dyn HealthProbe>>,
    pub telemetry: metrics::PrometheusTelemetry,
    /// Per-client limits on login and register, shared by every worker.
    pub throttles: Arc<throttle::AuthThrottles>,
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpState").finish_non_exhaustive()
    }
}

/// Mounts every route.
pub fn configure(state: HttpState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(health::Probes(state.health_probes.clone())))
            .app_data(web::Data::new(state.telemetry.clone()))
            .app_data(web::Data::new(state))
            .app_data(
                web::JsonConfig::default()
                    .limit(MAX_BODY_BYTES)
                    .error_handler(error::extractors::json),
            )
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .app_data(web::PathConfig::default().error_handler(error::extractors::path))
            .app_data(web::QueryConfig::default().error_handler(error::extractors::query));
        health::configure(cfg);
        metrics::configure(cfg);
        openapi::configure(cfg);
        console::configure(cfg);
        cfg.service(
            web::scope("/api/v1")
                .configure(routes::auth::configure)
                .configure(routes::tasks::configure)
                .configure(routes::executions::configure)
                .configure(routes::sessions::configure)
                .configure(routes::stream::configure)
                .configure(routes::reports::configure)
                .configure(routes::approvals::configure)
                .configure(routes::approval_links::configure)
                .configure(routes::audit::configure)
                .configure(routes::mcp_servers::configure)
                .configure(routes::notification_targets::configure)
                .configure(routes::quotas::configure)
                .configure(routes::webhooks::configure)
                .default_service(web::to(fallback::unrouted)),
        );
        cfg.default_service(web::to(fallback::unrouted));
    }
}
