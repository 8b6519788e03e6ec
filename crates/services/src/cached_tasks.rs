//! A read cache for tasks by id, for a node that is its database's only writer (no cluster):
//! `GET /tasks/{id}` and every execute read a task, and on SQLite each read crosses to the
//! driver's connection thread and back (docs/benchmarks.md, scenario f). Tasks change rarely
//! and only through this repository, so every write invalidates what it touched: the cache
//! never serves a task older than the last write that finished before the read began.
//!
//! A read that missed stores what it read only if no write finished meanwhile (a generation
//! counter), so a slow read cannot put back a task a concurrent write replaced.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use hashlink::LruCache;
use overseer_domain::{Task, TaskId};
use overseer_ports::repositories::TaskRepository;
use overseer_ports::{Page, PageRequest, RepoError, Scope};

/// How many tasks the cache holds: the least recently read go first.
pub const CACHED_TASKS: NonZeroUsize = NonZeroUsize::new(4_096).unwrap();

struct Cache {
    tasks: LruCache<TaskId, Task>,
    /// Grows with every finished write.
    generation: u64,
}

/// `inner` with [`TaskRepository::get`] served from memory after the first read.
pub struct CachedTasks {
    inner: Arc<dyn TaskRepository>,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for CachedTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedTasks").finish_non_exhaustive()
    }
}

impl CachedTasks {
    /// Caches up to `capacity` of `inner`'s tasks. Only for a repository nothing else writes.
    #[must_use]
    pub fn new(inner: Arc<dyn TaskRepository>, capacity: NonZeroUsize) -> Self {
        Self {
            inner,
            cache: Mutex::new(Cache {
                tasks: LruCache::new(capacity.get()),
                generation: 0,
            }),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// After a write (done or failed: it may have changed the row): forgets `id` (every task
    /// without one) and turns the generation.
    fn written(&self, id: Option<TaskId>) {
        let mut cache = self.cache();
        match id {
            Some(id) => {
                cache.tasks.remove(&id);
            }
            None => cache.tasks.clear(),
        }
        cache.generation += 1;
    }
}

/// `task` if `scope` may see it; otherwise as if it did not exist, like the repository.
fn visible(task: Task, scope: Scope) -> Result<Task, RepoError> {
    if scope.permits(task.user_id) {
        Ok(task)
    } else {
        Err(RepoError::NotFound { entity: "task" })
    }
}

#[async_trait]
impl TaskRepository for CachedTasks {
    async fn insert(&self, task: &Task) -> Result<(), RepoError> {
        let result = self.inner.insert(task).await;
        self.written(Some(task.id));
        result
    }

    async fn get(&self, id: TaskId, scope: Scope) -> Result<Task, RepoError> {
        let generation = {
            let mut cache = self.cache();
            if let Some(task) = cache.tasks.get(&id) {
                return visible(task.clone(), scope);
            }
            cache.generation
        };
        // Read whoever owns it, so the entry serves every caller; the scope is checked here.
        let task = self.inner.get(id, Scope::Admin).await?;
        {
            let mut cache = self.cache();
            if cache.generation == generation {
                cache.tasks.insert(id, task.clone());
            }
        }
        visible(task, scope)
    }

    async fn list(&self, scope: Scope, page: PageRequest) -> Result<Page<Task>, RepoError> {
        self.inner.list(scope, page).await
    }

    async fn update(&self, task: &Task, expected_version: u32) -> Result<(), RepoError> {
        let result = self.inner.update(task, expected_version).await;
        self.written(Some(task.id));
        result
    }

    async fn soft_delete(&self, id: TaskId, scope: Scope) -> Result<(), RepoError> {
        let result = self.inner.soft_delete(id, scope).await;
        self.written(Some(id));
        result
    }

    async fn list_scheduled(&self) -> Result<Vec<Task>, RepoError> {
        self.inner.list_scheduled().await
    }
}

#[cfg(test)]
mod tests {
    use overseer_testkit::{MemoryStore, fixtures};
    use tokio::sync::Notify;

    use super::*;

    #[tokio::test]
    async fn a_cached_task_is_read_once_and_a_write_is_seen_at_once() {
        let repos = MemoryStore::new().repositories();
        let owner = fixtures::user("c@example.com");
        repos.users.insert(&owner).await.unwrap();
        let cached = CachedTasks::new(repos.tasks.clone(), CACHED_TASKS);
        let mut task = fixtures::task(owner.id, "t", fixtures::EPOCH);
        cached.insert(&task).await.unwrap();
        assert_eq!(
            cached.get(task.id, Scope::Owner(owner.id)).await.unwrap(),
            task
        );
        // Changed behind the cache's back: still the cached copy (nothing else may write).
        let mut behind = task.clone();
        behind.description = Some("behind".into());
        behind.version = 2;
        repos.tasks.update(&behind, 1).await.unwrap();
        assert_eq!(cached.get(task.id, Scope::Admin).await.unwrap(), task);
        // Through the cache: seen at once.
        task.description = Some("through".into());
        task.version = 3;
        cached.update(&task, 2).await.unwrap();
        assert_eq!(
            cached.get(task.id, Scope::Admin).await.unwrap().description,
            Some("through".into())
        );
        let stranger = fixtures::user("s@example.com");
        assert!(matches!(
            cached.get(task.id, Scope::Owner(stranger.id)).await,
            Err(RepoError::NotFound { .. })
        ));
        cached
            .soft_delete(task.id, Scope::Owner(owner.id))
            .await
            .unwrap();
        assert!(matches!(
            cached.get(task.id, Scope::Admin).await,
            Err(RepoError::NotFound { .. })
        ));
    }

    /// Its first read returns `old` only once told to, after the test wrote `new`.
    struct SlowFirstRead {
        old: Task,
        new: Task,
        reads: std::sync::atomic::AtomicUsize,
        reading: Notify,
        resume: Notify,
    }

    #[async_trait]
    impl TaskRepository for SlowFirstRead {
        async fn insert(&self, _: &Task) -> Result<(), RepoError> {
            Ok(())
        }
        async fn get(&self, _: TaskId, _: Scope) -> Result<Task, RepoError> {
            let read = self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if read == 0 {
                self.reading.notify_one();
                self.resume.notified().await;
                return Ok(self.old.clone());
            }
            Ok(self.new.clone())
        }
        async fn list(&self, _: Scope, _: PageRequest) -> Result<Page<Task>, RepoError> {
            Ok(Page {
                items: Vec::new(),
                total: 0,
            })
        }
        async fn update(&self, _: &Task, _: u32) -> Result<(), RepoError> {
            Ok(())
        }
        async fn soft_delete(&self, _: TaskId, _: Scope) -> Result<(), RepoError> {
            Ok(())
        }
        async fn list_scheduled(&self) -> Result<Vec<Task>, RepoError> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn a_read_that_raced_a_write_is_not_kept() {
        let owner = fixtures::user("r@example.com");
        let old = fixtures::task(owner.id, "old", fixtures::EPOCH);
        let new = Task {
            description: Some("new".into()),
            ..old.clone()
        };
        let inner = Arc::new(SlowFirstRead {
            old: old.clone(),
            new: new.clone(),
            reads: Default::default(),
            reading: Notify::new(),
            resume: Notify::new(),
        });
        let cached = Arc::new(CachedTasks::new(inner.clone(), CACHED_TASKS));
        let id = old.id;
        let first = tokio::spawn({
            let cached = cached.clone();
            async move { cached.get(id, Scope::Admin).await }
        });
        inner.reading.notified().await;
        cached.update(&new, 1).await.unwrap();
        inner.resume.notify_one();
        assert_eq!(
            first.await.unwrap().unwrap(),
            old,
            "the racing read saw the old row"
        );
        assert_eq!(
            cached.get(id, Scope::Admin).await.unwrap(),
            new,
            "but did not keep it"
        );
    }
}
