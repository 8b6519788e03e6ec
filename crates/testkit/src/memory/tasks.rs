use async_trait::async_trait;
use overseer_domain::{Task, TaskId};
use overseer_ports::repositories::TaskRepository;
use overseer_ports::{Page, PageRequest, RepoError, Scope};

use super::{MemoryStore, newest_first_page};

const ENTITY: &str = "task";

#[async_trait]
impl TaskRepository for MemoryStore {
    async fn insert(&self, task: &Task) -> Result<(), RepoError> {
        let mut state = self.lock();
        if !state.users.contains_key(&task.user_id) {
            return Err(RepoError::NotFound { entity: "user" });
        }
        if state.tasks.contains_key(&task.id) {
            return Err(RepoError::AlreadyExists {
                entity: ENTITY,
                key: "id".to_owned(),
            });
        }
        state.tasks.insert(task.id, task.clone());
        Ok(())
    }

    async fn get(&self, id: TaskId, scope: Scope) -> Result<Task, RepoError> {
        self.lock()
            .tasks
            .get(&id)
            .filter(|t| !t.is_deleted && scope.permits(t.user_id))
            .cloned()
            .ok_or(RepoError::NotFound { entity: ENTITY })
    }

    async fn list(&self, scope: Scope, page: PageRequest) -> Result<Page<Task>, RepoError> {
        let state = self.lock();
        let rows = state
            .tasks
            .values()
            .filter(|t| !t.is_deleted && scope.permits(t.user_id))
            .cloned();
        Ok(newest_first_page(
            rows,
            |t| (t.created_at, t.id.as_uuid()),
            page,
        ))
    }

    async fn update(&self, task: &Task, expected_version: u32) -> Result<(), RepoError> {
        let mut state = self.lock();
        let stored = state
            .tasks
            .get_mut(&task.id)
            .filter(|t| !t.is_deleted)
            .ok_or(RepoError::NotFound { entity: ENTITY })?;
        if stored.version != expected_version {
            return Err(RepoError::Conflict {
                entity: ENTITY,
                expected: format!("version {expected_version}"),
            });
        }
        // Identity, owner, creation time and deletion are not editable.
        *stored = Task {
            id: stored.id,
            user_id: stored.user_id,
            created_at: stored.created_at,
            is_deleted: stored.is_deleted,
            ..task.clone()
        };
        Ok(())
    }

    async fn soft_delete(&self, id: TaskId, scope: Scope) -> Result<(), RepoError> {
        let mut state = self.lock();
        let stored = state
            .tasks
            .get_mut(&id)
            .filter(|t| !t.is_deleted && scope.permits(t.user_id))
            .ok_or(RepoError::NotFound { entity: ENTITY })?;
        stored.is_deleted = true;
        Ok(())
    }

    async fn list_scheduled(&self) -> Result<Vec<Task>, RepoError> {
        let mut scheduled: Vec<Task> = self
            .lock()
            .tasks
            .values()
            .filter(|t| !t.is_deleted && t.is_active && t.schedule.is_some())
            .cloned()
            .collect();
        scheduled.sort_by_key(|t| (t.created_at, t.id.as_uuid()));
        Ok(scheduled)
    }
}
