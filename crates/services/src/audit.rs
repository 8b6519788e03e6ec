//! The audit trail: append-only, with the caller's origin. There is no update or delete path.

use overseer_domain::{AuditAction, AuditLog, AuditLogId, ResourceType, UserId};
use overseer_ports::repositories::ToolCallWrite;
use serde_json::Value;

use crate::context::{Deps, RequestContext};
use crate::error::ServiceError;

/// One entry to record.
#[derive(Clone, Debug)]
pub struct AuditRecord<'a> {
    pub actor: Option<UserId>,
    pub action: AuditAction,
    pub resource_type: &'a str,
    pub resource_id: Option<String>,
    pub details: Value,
}

/// Writes the audit trail.
#[derive(Clone, Debug)]
pub struct AuditService {
    deps: Deps,
}

impl AuditService {
    /// The audit trail in `deps`' repositories.
    #[must_use]
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }

    fn entry(
        &self,
        record: AuditRecord<'_>,
        origin: Option<&RequestContext>,
    ) -> Result<AuditLog, ServiceError> {
        Ok(AuditLog {
            id: AuditLogId::from_uuid(self.deps.ids.new_id()),
            user_id: record.actor,
            action: record.action,
            resource_type: ResourceType::new(record.resource_type)?,
            resource_id: record.resource_id,
            details: record.details,
            ip_address: origin.and_then(|o| o.ip_address.clone()),
            user_agent: origin.and_then(|o| o.user_agent.clone()),
            created_at: self.deps.clock.now(),
        })
    }

    /// Appends an entry, with the request's origin when there is one.
    ///
    /// # Errors
    /// [`ServiceError::Validation`] for a malformed resource type (a programming error);
    /// [`ServiceError::Storage`].
    pub async fn record(
        &self,
        record: AuditRecord<'_>,
        origin: Option<&RequestContext>,
    ) -> Result<(), ServiceError> {
        let entry = self.entry(record, origin)?;
        self.deps.repos.audit_logs.append(&entry).await?;
        Ok(())
    }

    /// Appends `records` (no request origin: an agent's callbacks) and stores the tool call
    /// writes they account for, in one write: both or neither.
    ///
    /// # Errors
    /// As [`AuditService::record`]; nothing is stored then.
    pub async fn record_with(
        &self,
        records: Vec<AuditRecord<'_>>,
        tool_calls: &[ToolCallWrite],
    ) -> Result<(), ServiceError> {
        let entries = records
            .into_iter()
            .map(|record| self.entry(record, None))
            .collect::<Result<Vec<_>, _>>()?;
        self.deps
            .repos
            .audit_logs
            .append_with(&entries, tool_calls)
            .await?;
        Ok(())
    }

    /// Entries matching `filter`: every user's for an admin, the caller's own otherwise.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list(
        &self,
        ctx: &RequestContext,
        filter: overseer_ports::repositories::AuditFilter,
        page: overseer_ports::PageRequest,
    ) -> Result<overseer_ports::Page<AuditLog>, ServiceError> {
        Ok(self
            .deps
            .repos
            .audit_logs
            .list(ctx.scope(), filter, page)
            .await?)
    }
}
