use std::collections::HashSet;

use async_trait::async_trait;
use overseer_domain::AuditLog;
use overseer_ports::repositories::{AuditFilter, AuditLogRepository, ToolCallWrite};
use overseer_ports::{Page, PageRequest, RepoError, Scope};

use super::tool_calls::save_all;
use super::{MemoryStore, newest_first_page};

#[async_trait]
impl AuditLogRepository for MemoryStore {
    async fn append(&self, entry: &AuditLog) -> Result<(), RepoError> {
        let mut state = self.lock();
        if state.audit_logs.iter().any(|e| e.id == entry.id) {
            return Err(RepoError::AlreadyExists {
                entity: "audit log entry",
                key: "id".to_owned(),
            });
        }
        state.audit_logs.push(entry.clone());
        Ok(())
    }

    async fn append_with(
        &self,
        entries: &[AuditLog],
        tool_calls: &[ToolCallWrite],
    ) -> Result<(), RepoError> {
        let mut state = self.lock();
        let mut ids = HashSet::new();
        let taken = entries.iter().any(|entry| {
            !ids.insert(entry.id) || state.audit_logs.iter().any(|e| e.id == entry.id)
        });
        if taken {
            return Err(RepoError::AlreadyExists {
                entity: "audit log entry",
                key: "id".to_owned(),
            });
        }
        // All or nothing, like the SQL store's transaction: the tool calls first, as they are
        // the part that can still fail.
        save_all(&mut state, tool_calls)?;
        state.audit_logs.extend(entries.iter().cloned());
        Ok(())
    }

    async fn list(
        &self,
        scope: Scope,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditLog>, RepoError> {
        let state = self.lock();
        let rows = state
            .audit_logs
            .iter()
            .filter(|e| match scope {
                Scope::Owner(user) => e.user_id == Some(user),
                Scope::Admin => true,
            })
            .filter(|e| filter.action.as_ref().is_none_or(|a| &e.action == a))
            .filter(|e| {
                filter
                    .resource_type
                    .as_ref()
                    .is_none_or(|r| &e.resource_type == r)
            })
            .filter(|e| {
                filter
                    .resource_id
                    .as_ref()
                    .is_none_or(|r| e.resource_id.as_ref() == Some(r))
            })
            .filter(|e| filter.since.is_none_or(|t| e.created_at >= t))
            .filter(|e| filter.until.is_none_or(|t| e.created_at < t))
            .cloned();
        Ok(newest_first_page(
            rows,
            |e| (e.created_at, e.id.as_uuid()),
            page,
        ))
    }
}
