use async_trait::async_trait;
use overseer_domain::{SessionId, ToolCall, ToolCallStatus};
use overseer_ports::repositories::{ToolCallRepository, ToolCallWrite};
use overseer_ports::{Page, PageRequest, RepoError};

use super::{MemoryStore, State, cut};

const ENTITY: &str = "tool call";

fn insert(state: &mut State, call: &ToolCall) -> Result<(), RepoError> {
    let message_missing = call
        .message_id
        .is_some_and(|m| !state.messages.contains_key(&m));
    if !state.sessions.contains_key(&call.session_id) || message_missing {
        return Err(RepoError::NotFound {
            entity: "session or message",
        });
    }
    let duplicate = state.tool_calls.contains_key(&call.id)
        || state
            .tool_calls
            .values()
            .any(|c| c.session_id == call.session_id && c.tool_use_id == call.tool_use_id);
    if duplicate {
        return Err(RepoError::AlreadyExists {
            entity: ENTITY,
            key: "session_id, tool_use_id".to_owned(),
        });
    }
    state.tool_calls.insert(call.id, call.clone());
    Ok(())
}

fn update(state: &mut State, call: &ToolCall, expected: ToolCallStatus) -> Result<(), RepoError> {
    let message_missing = call
        .message_id
        .is_some_and(|m| !state.messages.contains_key(&m));
    let stored = state
        .tool_calls
        .get_mut(&call.id)
        .ok_or(RepoError::NotFound { entity: ENTITY })?;
    if stored.status != expected {
        return Err(RepoError::Conflict {
            entity: ENTITY,
            expected: expected.as_str().to_owned(),
        });
    }
    if message_missing {
        return Err(RepoError::NotFound { entity: "message" });
    }
    stored.message_id = call.message_id;
    stored.tool_output.clone_from(&call.tool_output);
    stored.tool_output_bytes = call.tool_output_bytes;
    stored.status = call.status;
    stored.permission_decision = call.permission_decision;
    stored.started_at = call.started_at;
    stored.completed_at = call.completed_at;
    stored.duration_ms = call.duration_ms;
    Ok(())
}

/// Applies `writes` in order, all or nothing, like the SQL store's transaction.
pub(super) fn save_all(state: &mut State, writes: &[ToolCallWrite]) -> Result<(), RepoError> {
    if writes.is_empty() {
        return Ok(());
    }
    let before = state.tool_calls.clone();
    for write in writes {
        let written = match write.expected {
            None => insert(state, &write.call),
            Some(expected) => update(state, &write.call, expected),
        };
        if let Err(err) = written {
            state.tool_calls = before;
            return Err(err);
        }
    }
    Ok(())
}

#[async_trait]
impl ToolCallRepository for MemoryStore {
    async fn insert(&self, call: &ToolCall) -> Result<(), RepoError> {
        insert(&mut self.lock(), call)
    }

    async fn update(&self, call: &ToolCall, expected: ToolCallStatus) -> Result<(), RepoError> {
        update(&mut self.lock(), call, expected)
    }

    async fn save_all(&self, writes: &[ToolCallWrite]) -> Result<(), RepoError> {
        save_all(&mut self.lock(), writes)
    }

    async fn list_unfinished(&self, session: SessionId) -> Result<Vec<ToolCall>, RepoError> {
        let mut calls: Vec<ToolCall> = self
            .lock()
            .tool_calls
            .values()
            .filter(|c| c.session_id == session && !c.status.is_terminal())
            .cloned()
            .collect();
        calls.sort_by_key(|c| (c.created_at, c.id));
        Ok(calls)
    }

    async fn find_by_tool_use_ids(
        &self,
        session: SessionId,
        tool_use_ids: &[String],
    ) -> Result<Vec<ToolCall>, RepoError> {
        Ok(self
            .lock()
            .tool_calls
            .values()
            .filter(|c| c.session_id == session && tool_use_ids.contains(&c.tool_use_id))
            .cloned()
            .collect())
    }

    async fn find_by_tool_use_id(
        &self,
        session: SessionId,
        tool_use_id: &str,
    ) -> Result<Option<ToolCall>, RepoError> {
        Ok(self
            .lock()
            .tool_calls
            .values()
            .find(|c| c.session_id == session && c.tool_use_id == tool_use_id)
            .cloned())
    }

    async fn list_for_session(
        &self,
        session: SessionId,
        page: PageRequest,
    ) -> Result<Page<ToolCall>, RepoError> {
        let state = self.lock();
        let mut rows: Vec<ToolCall> = state
            .tool_calls
            .values()
            .filter(|c| c.session_id == session)
            .cloned()
            .collect();
        rows.sort_by_key(|c| (c.created_at, c.id.as_uuid()));
        Ok(cut(rows, page))
    }
}
