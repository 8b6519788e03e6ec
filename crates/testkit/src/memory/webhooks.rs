use async_trait::async_trait;
use overseer_domain::TaskId;
use overseer_ports::RepoError;
use overseer_ports::repositories::WebhookRepository;
use time::OffsetDateTime;

use super::MemoryStore;

#[async_trait]
impl WebhookRepository for MemoryStore {
    async fn secret(&self, task: TaskId) -> Result<Option<String>, RepoError> {
        Ok(self.lock().webhook_secrets.get(&task).cloned())
    }

    async fn set_secret(
        &self,
        task: TaskId,
        secret: &str,
        _now: OffsetDateTime,
    ) -> Result<(), RepoError> {
        let mut state = self.lock();
        if !state.tasks.contains_key(&task) {
            return Err(RepoError::NotFound { entity: "task" });
        }
        state.webhook_secrets.insert(task, secret.to_owned());
        Ok(())
    }

    async fn record_receipt(
        &self,
        task: TaskId,
        signature: &str,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        let mut state = self.lock();
        let key = (task, signature.to_owned());
        if state.webhook_receipts.contains_key(&key) {
            return Ok(false);
        }
        state.webhook_receipts.insert(key, at);
        Ok(true)
    }

    async fn prune_receipts(&self, before: OffsetDateTime) -> Result<u64, RepoError> {
        let mut state = self.lock();
        let count = state.webhook_receipts.len();
        state.webhook_receipts.retain(|_, at| *at >= before);
        Ok((count - state.webhook_receipts.len()) as u64)
    }
}
