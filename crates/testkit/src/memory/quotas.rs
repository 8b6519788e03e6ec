use async_trait::async_trait;
use overseer_domain::{Quota, UserId};
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
}
