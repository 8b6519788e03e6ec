use async_trait::async_trait;
use overseer_domain::{Task, TaskId};

use crate::{Page, PageRequest, RepoError, Scope};

/// Tasks, versioned (compare-and-set on `version`), soft-deleted.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TaskRepository: Send + Sync {
    /// Stores a new task.
    ///
    /// # Errors
    /// `AlreadyExists` if the id is taken; `NotFound` if its user does not exist.
    async fn insert(&self, task: &Task) -> Result<(), RepoError>;

    /// A task that is not soft-deleted.
    ///
    /// # Errors
    /// `NotFound` if it does not exist, is deleted, or is outside `scope`.
    async fn get(&self, id: TaskId, scope: Scope) -> Result<Task, RepoError>;

    /// Tasks in `scope` that are not soft-deleted, newest first.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list(&self, scope: Scope, page: PageRequest) -> Result<Page<Task>, RepoError>;

    /// Writes every editable field of `task` (including its `version`) if the stored version is
    /// still `expected_version` and the task is not deleted.
    ///
    /// # Errors
    /// `NotFound` if missing or deleted; `Conflict` if the stored version differs.
    async fn update(&self, task: &Task, expected_version: u32) -> Result<(), RepoError>;

    /// Marks the task deleted. It disappears from `get` and `list`; its executions remain.
    ///
    /// # Errors
    /// `NotFound` if it does not exist, is already deleted, or is outside `scope`.
    async fn soft_delete(&self, id: TaskId, scope: Scope) -> Result<(), RepoError>;

    /// Every active, undeleted task with a schedule, of every user (for the scheduler).
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list_scheduled(&self) -> Result<Vec<Task>, RepoError>;
}
