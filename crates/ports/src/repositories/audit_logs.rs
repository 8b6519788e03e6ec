use async_trait::async_trait;
use overseer_domain::{AuditAction, AuditLog, ResourceType};
use time::OffsetDateTime;

use super::ToolCallWrite;
use crate::{Page, PageRequest, RepoError, Scope};

/// Narrows an audit query. Every set field must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only this kind of resource.
    pub resource_type: Option<ResourceType>,
    /// Only this resource.
    pub resource_id: Option<String>,
    /// Inclusive.
    pub since: Option<OffsetDateTime>,
    /// Exclusive.
    pub until: Option<OffsetDateTime>,
}

/// Append-only: there is deliberately no update or delete.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLogRepository: Send + Sync {
    /// Appends an entry.
    ///
    /// # Errors
    /// `AlreadyExists` if the id is taken.
    async fn append(&self, entry: &AuditLog) -> Result<(), RepoError>;

    /// Appends `entries`, in order, and in the same atomic step stores the tool call writes
    /// they account for (as [`ToolCallRepository::save_all`](super::ToolCallRepository::save_all)):
    /// both or neither. One commit records what a hook learned about a tool use and why it
    /// may run.
    ///
    /// # Errors
    /// As [`Self::append`] and [`ToolCallRepository::save_all`](super::ToolCallRepository::save_all);
    /// nothing of either is written then.
    async fn append_with(
        &self,
        entries: &[AuditLog],
        tool_calls: &[ToolCallWrite],
    ) -> Result<(), RepoError>;

    /// Entries matching `filter`, newest first. In an owner scope, only that user's entries.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list(
        &self,
        scope: Scope,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditLog>, RepoError>;
}
