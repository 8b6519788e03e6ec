use async_trait::async_trait;
use overseer_domain::{Approval, ApprovalId, ApprovalStatus, Delivery, SessionId};
use overseer_ports::repositories::{ApprovalFilter, ApprovalRepository};
use overseer_ports::{Page, PageRequest, RepoError, Scope};

use super::{MemoryStore, newest_first_page};

const ENTITY: &str = "approval";

#[async_trait]
impl ApprovalRepository for MemoryStore {
    async fn insert(&self, approval: &Approval, outbox: &[Delivery]) -> Result<(), RepoError> {
        let mut state = self.lock();
        state.check_outbox(outbox)?;
        if !state.sessions.contains_key(&approval.session_id)
            || !state.users.contains_key(&approval.user_id)
        {
            return Err(RepoError::NotFound {
                entity: "session or user",
            });
        }
        if state.approvals.contains_key(&approval.id) {
            return Err(RepoError::AlreadyExists {
                entity: ENTITY,
                key: "id".to_owned(),
            });
        }
        state.approvals.insert(approval.id, approval.clone());
        state.put_outbox(outbox);
        Ok(())
    }

    async fn get(&self, id: ApprovalId, scope: Scope) -> Result<Approval, RepoError> {
        self.lock()
            .approvals
            .get(&id)
            .filter(|a| scope.permits(a.user_id))
            .cloned()
            .ok_or(RepoError::NotFound { entity: ENTITY })
    }

    async fn update(
        &self,
        approval: &Approval,
        expected: ApprovalStatus,
        outbox: &[Delivery],
    ) -> Result<(), RepoError> {
        let mut state = self.lock();
        state.check_outbox(outbox)?;
        let stored = state
            .approvals
            .get_mut(&approval.id)
            .ok_or(RepoError::NotFound { entity: ENTITY })?;
        if stored.status() != expected {
            return Err(RepoError::Conflict {
                entity: ENTITY,
                expected: expected.as_str().to_owned(),
            });
        }
        let mut updated = stored.clone().with_stored_status(approval.status());
        updated.decided_by = approval.decided_by;
        updated.decided_at = approval.decided_at;
        *stored = updated;
        state.put_outbox(outbox);
        Ok(())
    }

    async fn list_pending(&self, session: SessionId) -> Result<Vec<Approval>, RepoError> {
        let state = self.lock();
        let mut rows: Vec<Approval> = state
            .approvals
            .values()
            .filter(|a| a.session_id == session && a.status() == ApprovalStatus::Pending)
            .cloned()
            .collect();
        rows.sort_by_key(|a| (a.created_at, a.id.as_uuid()));
        Ok(rows)
    }

    async fn list(
        &self,
        scope: Scope,
        filter: ApprovalFilter,
        page: PageRequest,
    ) -> Result<Page<Approval>, RepoError> {
        let state = self.lock();
        let rows = state
            .approvals
            .values()
            .filter(|a| scope.permits(a.user_id))
            .filter(|a| filter.status.is_none_or(|status| a.status() == status))
            .filter(|a| filter.session.is_none_or(|session| a.session_id == session))
            .cloned();
        Ok(newest_first_page(
            rows,
            |a| (a.created_at, a.id.as_uuid()),
            page,
        ))
    }
}
