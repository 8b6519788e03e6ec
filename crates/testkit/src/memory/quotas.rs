use async_trait::async_trait;
use overseer_domain::{Quota, TaskId, UserId};
use overseer_ports::RepoError;
use overseer_ports::repositories::QuotaRepository;
use time::{Date, OffsetDateTime};

use super::MemoryStore;

#[async_trait]
impl QuotaRepository for MemoryStore {
    async fn get(&self, user: UserId) -> Result<Quota, RepoError> {
        Ok(self.lock().quotas.get(&user).copied().unwrap_or_default())
    }

    async fn set(&self, user: UserId, quota: Quota, _now: OffsetDateTime) -> Result<(), RepoError> {
        let mut state = self.lock();
        if !state.users.contains_key(&user) {
            return Err(RepoError::NotFound { entity: "user" });
        }
        state.quotas.insert(user, quota);
        Ok(())
    }

    async fn add_cost(&self, user: UserId, day: Date, usd: f64) -> Result<(), RepoError> {
        let mut state = self.lock();
        if !state.users.contains_key(&user) {
            return Err(RepoError::NotFound { entity: "user" });
        }
        *state.daily_costs.entry((user, day)).or_default() += usd;
        Ok(())
    }

    async fn cost_on(&self, user: UserId, day: Date) -> Result<f64, RepoError> {
        Ok(self
            .lock()
            .daily_costs
            .get(&(user, day))
            .copied()
            .unwrap_or(0.0))
    }

    async fn cost_between(&self, user: UserId, first: Date, last: Date) -> Result<f64, RepoError> {
        Ok(self
            .lock()
            .daily_costs
            .iter()
            .filter(|((who, day), _)| *who == user && (first..=last).contains(day))
            .map(|(_, usd)| usd)
            .sum())
    }

    async fn add_task_cost(&self, task: TaskId, day: Date, usd: f64) -> Result<(), RepoError> {
        let mut state = self.lock();
        if !state.tasks.contains_key(&task) {
            return Err(RepoError::NotFound { entity: "task" });
        }
        *state.task_daily_costs.entry((task, day)).or_default() += usd;
        Ok(())
    }

    async fn task_cost_between(
        &self,
        task: TaskId,
        first: Date,
        last: Date,
    ) -> Result<f64, RepoError> {
        Ok(self
            .lock()
            .task_daily_costs
            .iter()
            .filter(|((which, day), _)| *which == task && (first..=last).contains(day))
            .map(|(_, usd)| usd)
            .sum())
    }
}
