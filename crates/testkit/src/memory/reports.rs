use async_trait::async_trait;
use overseer_domain::{Report, ReportId, SessionId};
use overseer_ports::repositories::ReportRepository;
use overseer_ports::{Page, PageRequest, RepoError, Scope};

use super::{MemoryStore, newest_first_page};

const ENTITY: &str = "report";

#[async_trait]
impl ReportRepository for MemoryStore {
    async fn insert(&self, report: &Report) -> Result<(), RepoError> {
        let mut state = self.lock();
        if !state.sessions.contains_key(&report.session_id)
            || !state.users.contains_key(&report.user_id)
        {
            return Err(RepoError::NotFound {
                entity: "session or user",
            });
        }
        if state.reports.contains_key(&report.id) {
            return Err(RepoError::AlreadyExists {
                entity: ENTITY,
                key: "id".to_owned(),
            });
        }
        state.reports.insert(report.id, report.clone());
        Ok(())
    }

    async fn get(&self, id: ReportId, scope: Scope) -> Result<Report, RepoError> {
        self.lock()
            .reports
            .get(&id)
            .filter(|r| scope.permits(r.user_id))
            .cloned()
            .ok_or(RepoError::NotFound { entity: ENTITY })
    }

    async fn list_for_session(
        &self,
        session: SessionId,
        scope: Scope,
        page: PageRequest,
    ) -> Result<Page<Report>, RepoError> {
        let state = self.lock();
        let rows = state
            .reports
            .values()
            .filter(|r| r.session_id == session && scope.permits(r.user_id))
            .cloned();
        Ok(newest_first_page(
            rows,
            |r| (r.created_at, r.id.as_uuid()),
            page,
        ))
    }
}
