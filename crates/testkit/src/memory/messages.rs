use async_trait::async_trait;
use overseer_domain::{Message, MessageId, NewMessage, SessionId};
use overseer_ports::RepoError;
use overseer_ports::repositories::MessageRepository;

use super::MemoryStore;

const ENTITY: &str = "message";

#[async_trait]
impl MessageRepository for MemoryStore {
    async fn append(&self, message: NewMessage) -> Result<Message, RepoError> {
        let mut state = self.lock();
        if state.messages.contains_key(&message.id) {
            return Err(RepoError::AlreadyExists {
                entity: ENTITY,
                key: "id".to_owned(),
            });
        }
        let session = state
            .sessions
            .get_mut(&message.session_id)
            .ok_or(RepoError::NotFound { entity: "session" })?;
        session.usage.message_count += 1;
        let stored = Message::from_new(message, session.usage.message_count);
        state.messages.insert(stored.id, stored.clone());
        Ok(stored)
    }

    async fn get(&self, id: MessageId) -> Result<Message, RepoError> {
        self.lock()
            .messages
            .get(&id)
            .cloned()
            .ok_or(RepoError::NotFound { entity: ENTITY })
    }

    async fn list_after(
        &self,
        session: SessionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Message>, RepoError> {
        let state = self.lock();
        let mut rows: Vec<Message> = state
            .messages
            .values()
            .filter(|m| m.session_id == session && m.sequence_number > after)
            .cloned()
            .collect();
        rows.sort_by_key(|m| m.sequence_number);
        rows.truncate(limit as usize);
        Ok(rows)
    }
}
