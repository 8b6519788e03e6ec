//! The one place errors become HTTP: `application/problem+json` (RFC 9457) with a stable `type`
//! per kind. Validation errors name the offending fields. Internal details are logged, never
//! sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use overseer_domain::ValidationError;
use overseer_domain::template::{RenderError, TemplateError};
use overseer_services::ServiceError;
use serde::Serialize;

/// One offending input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    /// For a quota or rate limit refusal: which limit.
    limit: Option<&'static str>,
    /// A header the refusal carries.
    hint: Option<Hint>,
}

/// What a client is told besides the problem.
#[derive(Clone, Copy, Debug)]
enum Hint {
    /// A rate limit: whole seconds until a retry can succeed (`Retry-After`).
    RetryAfter(u64),
    /// A 405: the methods the path serves (`Allow`). A thin reference keeps `ApiError` small.
    Allow(&'static String),
}

/// An RFC 9457 problem: what went wrong, and for validation which fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct Problem<'a> {
    /// A stable URI per kind of error, e.g. `/problems/validation`.
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    #[schema(value_type = Vec<FieldError>)]
    errors: &'a [FieldError],
    /// The limit reached: on 429s a quota (`max_active_runs`, `max_daily_cost_usd`,
    /// `max_open_sessions`), a rate limit (`login_attempts_per_minute`,
    /// `registrations_per_minute`) or a cap (`subscribers_per_session`); on 413s the size cap
    /// (`max_body_bytes` …).
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<&'a str>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            limit: None,
            hint: None,
        }
    }

    /// 429: too many requests of this client; `Retry-After` says when to try again.
    pub fn rate_limited(limit: &'static str, wait: std::time::Duration) -> Self {
        // Whole seconds, rounded up: retrying at the advertised time must succeed.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let seconds = seconds.max(1);
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!("{limit} reached; retry in {seconds} s"),
        );
        error.limit = Some(limit);
        error.hint = Some(Hint::RetryAfter(seconds));
        error
    }

    /// 429: a fixed cap of the service is reached; `limit` names it.
    pub fn cap_reached(limit: &'static str, detail: impl Into<String>) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "limit-reached",
            "Limit reached",
            detail,
        );
        error.limit = Some(limit);
        error
    }

    /// 400: the request cannot be read (malformed JSON, a bad id in the path …).
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "Malformed request",
            detail,
        )
    }

    /// 422 naming one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let (field, message) = (field.into(), message.into());
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid input",
            format!("{field}: {message}"),
        );
        error.errors.push(FieldError { field, message });
        error
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            "a valid bearer token is required",
        )
    }

    /// 405: the path exists, for the methods in `allow` only.
    pub fn method_not_allowed(allow: &'static String) -> Self {
        let mut error = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!("this path serves {allow}"),
        );
        error.hint = Some(Hint::Allow(allow));
        error
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("{what} not found"),
        )
    }

    /// 413: `what` is over the cap `name` of `limit` bytes; `limit` in the problem names it.
    pub fn too_large(what: &str, name: &'static str, limit: usize) -> Self {
        let mut error = Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("{what} is over {limit} bytes ({name})"),
        );
        error.limit = Some(name);
        error
    }

    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the request could not be completed",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.title, self.status, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let problem = Problem {
            kind: format!("/problems/{}", self.kind),
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            errors: &self.errors,
            limit: self.limit,
        };
        let mut response = HttpResponse::build(self.status);
        response.content_type("application/problem+json");
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        match self.hint {
            Some(Hint::RetryAfter(seconds)) => {
                response.insert_header((header::RETRY_AFTER, seconds));
            }
            Some(Hint::Allow(methods)) => {
                response.insert_header((header::ALLOW, methods.as_str()));
            }
            None => {}
        }
        response.json(problem)
    }
}

fn validation(err: &ValidationError) -> ApiError {
    ApiError::invalid(err.field.clone(), err.reason.clone())
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        validation(&err)
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        use ServiceError as E;
        match err {
            E::NotFound { entity } => Self::not_found(entity),
            E::Validation(err) => validation(&err),
            E::Template(err) => {
                let field = match err {
                    TemplateError::InvalidDeclaration(_)
                    | TemplateError::DuplicateVariable(_)
                    | TemplateError::TooManyVariables { .. } => "variables",
                    _ => "prompt_template",
                };
                Self::invalid(field, err.to_string())
            }
            E::Render(RenderError::InvalidVariables(errors)) => {
                let mut api = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation",
                    "Invalid variables",
                    errors.to_string(),
                );
                let mut push = |name: &str, message: String| {
                    api.errors.push(FieldError {
                        field: format!("variables.{name}"),
                        message,
                    })
                };
                for name in &errors.missing {
                    push(name, "is required".to_owned());
                }
                for name in &errors.unknown {
                    push(name, "is not declared by the task".to_owned());
                }
                for (name, expected) in &errors.wrong_type {
                    push(name, format!("must be {expected}"));
                }
                api
            }
            E::Render(err @ RenderError::TooLarge { .. }) => {
                Self::invalid("variables", err.to_string())
            }
            E::TaskInactive => Self::new(
                StatusCode::CONFLICT,
                "task-inactive",
                "Task inactive",
                "the task is not active",
            ),
            E::SessionNotActive { status } => Self::new(
                StatusCode::CONFLICT,
                "session-not-active",
                "Session not active",
                format!("session not active (status '{status}')"),
            ),
            E::Conflict(detail) => Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail),
            E::InvalidTransition(t) => Self::new(
                StatusCode::CONFLICT,
                "invalid-transition",
                "Invalid state change",
                t.to_string(),
            ),
            E::Forbidden(why) => Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", why),
            E::Unauthorized => Self::unauthorized(),
            E::Gone(why) => Self::new(StatusCode::GONE, "gone", "Gone", why),
            E::QuotaExceeded { limit, detail } => {
                let mut api = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "quota-exceeded",
                    "Quota exceeded",
                    detail,
                );
                api.limit = Some(limit.as_str());
                api
            }
            E::Agent(err) => {
                tracing::warn!(error = %err, "agent failure answered as 502");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    "agent-failure",
                    "Agent failure",
                    "the agent could not complete the request",
                )
            }
            E::AgentRuntimeUnavailable => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "agent-runtime-unavailable",
                "Agents cannot run on this node",
                "the Claude Code CLI is missing or not working here (or a required sandbox is); \
                 nothing was stored; the server's log and GET /health say more",
            ),
            E::AgentCapacity { seconds } => {
                let mut api = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "agent-capacity",
                    "No agent slot free",
                    format!(
                        "every live agent stayed in a turn for {seconds} s; try again when one ends"
                    ),
                );
                api.limit = Some("agent_start_timeout_seconds");
                api.hint = Some(Hint::RetryAfter(1));
                api
            }
            E::Queue(err) => {
                tracing::error!(error = %err, "execution queue unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "try again later",
                )
            }
            E::Storage(err) => {
                tracing::error!(error = %err, "storage failure");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "try again later",
                )
            }
            err @ (E::Files(_) | E::Credentials) => {
                tracing::error!(error = %err, "internal failure");
                Self::internal()
            }
        }
    }
}

/// Maps actix's own extractor failures (bad JSON, bad path or query) to problems.
pub mod extractors {
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
    use actix_web::{Error, HttpRequest};

    use super::ApiError;

    pub fn json(err: JsonPayloadError, _: &HttpRequest) -> Error {
        match err {
            JsonPayloadError::OverflowKnownLength { limit, .. }
            | JsonPayloadError::Overflow { limit } => {
                ApiError::too_large("the request body", "max_body_bytes", limit).into()
            }
            JsonPayloadError::ContentType => {
                ApiError::malformed("the body must be application/json").into()
            }
            JsonPayloadError::Deserialize(err) if err.is_data() => {
                // serde names the field in its message ("unknown field `x`", "missing field `y`").
                ApiError::invalid("body", err.to_string()).into()
            }
            other => ApiError::malformed(format!("the body is not valid JSON: {other}")).into(),
        }
    }

    pub fn path(err: PathError, _: &HttpRequest) -> Error {
        ApiError::malformed(format!("bad path parameter: {err}")).into()
    }

    pub fn query(err: QueryPayloadError, _: &HttpRequest) -> Error {
        ApiError::malformed(format!("bad query parameter: {err}")).into()
    }
}
