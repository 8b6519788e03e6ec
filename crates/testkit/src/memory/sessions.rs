use async_trait::async_trait;
use overseer_domain::{Session, SessionId, SessionStatus};
use overseer_ports::repositories::{SessionFilter, SessionRepository, UsageDelta};
use overseer_ports::{Page, PageRequest, RepoError, Scope};

use super::{MemoryStore, newest_first_page};

const ENTITY: &str = "session";

#[async_trait]
impl SessionRepository for MemoryStore {
    async fn insert(&self, session: &Session) -> Result<(), RepoError> {
        let mut state = self.lock();
        if !state.users.contains_key(&session.user_id) {
            return Err(RepoError::NotFound { entity: "user" });
        }
        if state.sessions.contains_key(&session.id) {
            return Err(RepoError::AlreadyExists {
                entity: ENTITY,
                key: "id".to_owned(),
            });
        }
        state.sessions.insert(session.id, session.clone());
        Ok(())
    }

    async fn get(&self, id: SessionId, scope: Scope) -> Result<Session, RepoError> {
        self.lock()
            .sessions
            .get(&id)
            .filter(|s| scope.permits(s.user_id))
            .cloned()
            .ok_or(RepoError::NotFound { entity: ENTITY })
    }

    async fn list(
        &self,
        scope: Scope,
        filter: SessionFilter,
        page: PageRequest,
    ) -> Result<Page<Session>, RepoError> {
        let state = self.lock();
        let rows = state
            .sessions
            .values()
            .filter(|s| scope.permits(s.user_id))
            .filter(|s| filter.status.is_none_or(|status| s.status() == status))
            .filter(|s| filter.mode.is_none_or(|mode| s.mode == mode))
            .filter(|s| !filter.live_only || s.status().is_live())
            .cloned();
        Ok(newest_first_page(
            rows,
            |s| (s.created_at, s.id.as_uuid()),
            page,
        ))
    }

    async fn in_flight(&self) -> Result<Vec<Session>, RepoError> {
        Ok(self
            .lock()
            .sessions
            .values()
            .filter(|s| {
                matches!(
                    s.status(),
                    SessionStatus::Connecting | SessionStatus::Processing
                )
            })
            .cloned()
            .collect())
    }

    async fn update_status(
        &self,
        session: &Session,
        expected: SessionStatus,
    ) -> Result<(), RepoError> {
        let mut state = self.lock();
        let stored = state
            .sessions
            .get_mut(&session.id)
            .ok_or(RepoError::NotFound { entity: ENTITY })?;
        if stored.status() != expected {
            return Err(RepoError::Conflict {
                entity: ENTITY,
                expected: expected.as_str().to_owned(),
            });
        }
        let mut updated = stored.clone().with_stored_status(session.status());
        updated.error_message.clone_from(&session.error_message);
        updated
            .working_directory_path
            .clone_from(&session.working_directory_path);
        updated.options = session.options.clone();
        updated.updated_at = session.updated_at;
        *stored = updated;
        Ok(())
    }

    async fn set_agent_session_id(
        &self,
        id: SessionId,
        agent_session_id: &str,
    ) -> Result<(), RepoError> {
        let mut state = self.lock();
        let stored = state
            .sessions
            .get_mut(&id)
            .ok_or(RepoError::NotFound { entity: ENTITY })?;
        stored.agent_session_id = Some(agent_session_id.to_owned());
        Ok(())
    }

    async fn add_usage(&self, id: SessionId, delta: UsageDelta) -> Result<(), RepoError> {
        let mut state = self.lock();
        let stored = state
            .sessions
            .get_mut(&id)
            .ok_or(RepoError::NotFound { entity: ENTITY })?;
        stored.usage.input_tokens += delta.input_tokens;
        stored.usage.output_tokens += delta.output_tokens;
        stored.usage.total_cost_usd += delta.cost_usd;
        Ok(())
    }
}
