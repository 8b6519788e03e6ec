use std::collections::HashSet;

use async_trait::async_trait;
use overseer_domain::{Message, MessageId, NewMessage, SessionId};
use overseer_ports::RepoError;
use overseer_ports::repositories::{MessageRepository, ToolCallWrite};

use super::MemoryStore;
use super::tool_calls::save_all;

const ENTITY: &str = "message";

#[async_trait]
impl MessageRepository for MemoryStore {
    async fn append_with(
        &self,
        session: SessionId,
        messages: Vec<NewMessage>,
        tool_calls: &[ToolCallWrite],
    ) -> Result<Vec<Message>, RepoError> {
        let mut state = self.lock();
        let mut ids = HashSet::new();
        for message in &messages {
            if message.session_id != session {
                return Err(RepoError::Conflict {
                    entity: ENTITY,
                    expected: "messages of one session".to_owned(),
                });
            }
            if state.messages.contains_key(&message.id) || !ids.insert(message.id) {
                return Err(RepoError::AlreadyExists {
                    entity: ENTITY,
                    key: "id".to_owned(),
                });
            }
        }
        let counter = &mut state
            .sessions
            .get_mut(&session)
            .ok_or(RepoError::NotFound { entity: "session" })?
            .usage
            .message_count;
        let before = *counter;
        *counter += messages.len() as u64;
        let stored: Vec<Message> = messages
            .into_iter()
            .zip(before + 1..)
            .map(|(message, number)| Message::from_new(message, number))
            .collect();
        for message in &stored {
            state.messages.insert(message.id, message.clone());
        }
        // The tool call writes come after the messages (a call may refer to one of them); all
        // or nothing, like the SQL store's transaction.
        if let Err(err) = save_all(&mut state, tool_calls) {
            for message in &stored {
                state.messages.remove(&message.id);
            }
            if let Some(session) = state.sessions.get_mut(&session) {
                session.usage.message_count = before;
            }
            return Err(err);
        }
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
