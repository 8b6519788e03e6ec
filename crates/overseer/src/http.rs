//! The REST API of an instance, to mount into an actix-web app (feature `http`).

use std::num::NonZeroU32;
use std::sync::Arc;

use overseer_auth::{Argon2Hasher, JwtIssuer};
use overseer_http::HttpState;
use overseer_http::metrics::PrometheusTelemetry;
use overseer_http::throttle::AuthThrottles;
use overseer_ports::agent::Secret;
use overseer_services::{AuthConfig, AuthService, Deps};

use crate::error::StartError;
use crate::handle::Overseer;
use crate::node;

/// How the API authenticates and measures.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Signs access tokens. `None`: the secret kept in `<data_dir>/jwt-secret`, generated
    /// once (mode 0600).
    pub jwt_secret: Option<Secret>,
    /// Whether anyone may register (the first account is an admin). Default `true`.
    pub registration_open: bool,
    /// Login attempts and registrations per client address per minute. Default 20.
    pub auth_attempts_per_minute: NonZeroU32,
    /// What `/metrics` shows: pass the same one to `OverseerBuilder::telemetry` to see the
    /// services' measurements there too.
    pub telemetry: PrometheusTelemetry,
    /// Where people reach this API (e.g. `https://overseer.example.com`): the base of the
    /// one-tap approval links in notifications. `None`: notifications carry no such links.
    pub public_url: Option<String>,
}

impl HttpOptions {
    /// The default of [`HttpOptions::auth_attempts_per_minute`].
    pub const DEFAULT_AUTH_ATTEMPTS_PER_MINUTE: NonZeroU32 = NonZeroU32::MIN.saturating_add(19);
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            registration_open: true,
            auth_attempts_per_minute: Self::DEFAULT_AUTH_ATTEMPTS_PER_MINUTE,
            telemetry: PrometheusTelemetry::new(),
            public_url: None,
        }
    }
}

/// The API over one instance. Mount it with `App::new().configure(api.configure())`; the same
/// value may configure several workers.
#[derive(Clone, Debug)]
pub struct HttpApi {
    state: HttpState,
}

impl HttpApi {
    /// The routes (`/api/v1/…`, `/health`, `/metrics`, `/docs`) with their shared state.
    pub fn configure(&self) -> impl FnOnce(&mut actix_web::web::ServiceConfig) + use<> {
        overseer_http::configure(self.state.clone())
    }

    /// Accounts and tokens (e.g. to create the first user).
    #[must_use]
    pub fn auth(&self) -> Arc<AuthService> {
        self.state.auth.clone()
    }
}

impl Overseer {
    /// The REST API over this instance: the same routes `overseer serve` answers.
    ///
    /// # Errors
    /// [`StartError::DataDir`] when the stored JWT secret cannot be read or created.
    pub fn http_api(&self, options: HttpOptions) -> Result<HttpApi, StartError> {
        let secret = match options.jwt_secret {
            Some(secret) => secret,
            None => node::stored_jwt_secret(self.data_dir())?,
        };
        let deps = Deps::system(self.store().repositories());
        let issuer = Arc::new(JwtIssuer::new(&secret));
        if let Some(public_url) = &options.public_url {
            // Links are signed like access tokens, with the same secret, for one approval
            // and one decision each.
            self.services()
                .approvals
                .enable_links(issuer.clone(), public_url);
        }
        let auth = Arc::new(AuthService::new(
            deps,
            Arc::new(Argon2Hasher),
            issuer,
            AuthConfig {
                registration_open: options.registration_open,
                ..AuthConfig::default()
            },
        ));
        let services = self.services().clone();
        let state = HttpState {
            health_probes: vec![
                Arc::new(self.store().clone()),
                Arc::new(services.agent_runtime.clone()),
            ],
            services,
            auth,
            live: self.subscriber(),
            telemetry: options.telemetry,
            throttles: Arc::new(AuthThrottles::per_minute(options.auth_attempts_per_minute)),
        };
        Ok(HttpApi { state })
    }
}
