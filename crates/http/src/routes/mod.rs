//! One module per resource, each with a `configure` that the app mounts under `/api/v1`.

pub mod approval_links;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod executions;
pub mod mcp_servers;
pub mod notification_targets;
pub mod quotas;
pub mod reports;
pub mod sessions;
pub mod stream;
pub mod tasks;
pub mod webhooks;

use std::str::FromStr;

use crate::error::ApiError;

/// Parses a typed id from a path segment (400 naming it when malformed).
pub(crate) fn id<T: FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::malformed(format!("'{raw}' is not a valid {what} id")))
}
