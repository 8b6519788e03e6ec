use async_trait::async_trait;
use overseer_domain::{Quota, TaskId, UserId};
use time::{Date, OffsetDateTime};

use crate::RepoError;

/// Users' own quotas, and what their agents (and each task's runs) spent per UTC day.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait QuotaRepository: Send + Sync {
    /// The user's own quota (all limits unset if none was stored).
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn get(&self, user: UserId) -> Result<Quota, RepoError>;

    /// Stores the user's own quota, replacing any previous one.
    ///
    /// # Errors
    /// `NotFound` if the user does not exist.
    async fn set(&self, user: UserId, quota: Quota, now: OffsetDateTime) -> Result<(), RepoError>;

    /// Adds `usd` to what the user spent on `day`, atomically (turns of several sessions end
    /// at once).
    ///
    /// # Errors
    /// `NotFound` if the user does not exist.
    async fn add_cost(&self, user: UserId, day: Date, usd: f64) -> Result<(), RepoError>;

    /// What the user spent on `day` (0 if nothing was recorded).
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn cost_on(&self, user: UserId, day: Date) -> Result<f64, RepoError>;

    /// What the user spent from `first` to `last`, both included (0 if nothing was recorded).
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn cost_between(&self, user: UserId, first: Date, last: Date) -> Result<f64, RepoError>;

    /// Adds `usd` to what the task's runs spent on `day`, atomically.
    ///
    /// # Errors
    /// `NotFound` if the task does not exist.
    async fn add_task_cost(&self, task: TaskId, day: Date, usd: f64) -> Result<(), RepoError>;

    /// What the task's runs spent from `first` to `last`, both included.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn task_cost_between(
        &self,
        task: TaskId,
        first: Date,
        last: Date,
    ) -> Result<f64, RepoError>;
}
