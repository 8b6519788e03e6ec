//! The error responses every operation documents: one list, used by each handler's
//! `utoipa::path` annotation and gathered into the OpenAPI document.

use crate::error::Problem;

/// Errors any operation may answer with, as `application/problem+json`.
#[allow(dead_code)] // A description for the document, never built.
#[derive(utoipa::IntoResponses)]
pub(crate) enum Errors {
    #[response(
        status = 400,
        description = "Malformed request (bad JSON, bad id, bad query)",
        content_type = "application/problem+json"
    )]
    Malformed(Problem<'static>),
    #[response(
        status = 401,
        description = "Missing, invalid or expired token",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem<'static>),
    #[response(
        status = 403,
        description = "Not allowed (admin-only, registration closed)",
        content_type = "application/problem+json"
    )]
    Forbidden(Problem<'static>),
    #[response(
        status = 404,
        description = "Missing, or someone else's",
        content_type = "application/problem+json"
    )]
    NotFound(Problem<'static>),
    #[response(
        status = 409,
        description = "Conflict (stale version, not active, already answered)",
        content_type = "application/problem+json"
    )]
    Conflict(Problem<'static>),
    #[response(
        status = 413,
        description = "Body too large; `limit` names the cap",
        content_type = "application/problem+json"
    )]
    TooLarge(Problem<'static>),
    #[response(
        status = 422,
        description = "Invalid input; `errors` names the fields",
        content_type = "application/problem+json"
    )]
    Invalid(Problem<'static>),
    #[response(
        status = 429,
        description = "A quota, a rate limit or a cap is reached; `limit` names it (rate limits send `Retry-After`)",
        content_type = "application/problem+json"
    )]
    QuotaExceeded(Problem<'static>),
    #[response(
        status = 503,
        description = "Storage or queue unavailable; agents cannot run on this node (`agent-runtime-unavailable`); no agent slot came free in time (`agent-capacity`, `limit` names it)",
        content_type = "application/problem+json"
    )]
    Unavailable(Problem<'static>),
}
