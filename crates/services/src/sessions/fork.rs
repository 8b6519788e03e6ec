//! Forking a session: a new interactive session that continues the conversation so far, in a
//! copy of the parent's working directory; the parent is left as it was.

use overseer_domain::{
    AuditAction, Fork, MessageType, NewSession, Session, SessionId, SessionMode, SessionName,
    SessionStatus, ValidationError,
};
use serde_json::json;

use super::SessionService;
use crate::audit::AuditRecord;
use crate::context::RequestContext;
use crate::error::ServiceError;

impl SessionService {
    /// Forks `id`: a new interactive session of the caller's, named `name` (by default the
    /// parent's with " (fork)"), whose agent continues the parent's conversation (up to and
    /// including the assistant message `at_sequence`, or all of it) as a new one
    /// (the parent's next turns do not see the fork's, nor the reverse), working in a copy of
    /// the parent's working directory. Audited as `session.forked` on the new session.
    ///
    /// # Errors
    /// `NotFound` if missing or someone else's; `Validation` on `at_sequence` unless it is an
    /// assistant message of the session; `Conflict` while the parent is mid-turn, when
    /// it has no conversation yet, or when another node hosts it; the open-sessions cap; file
    /// and agent errors from copying (nothing is left behind then).
    pub async fn fork(
        &self,
        ctx: &RequestContext,
        id: SessionId,
        name: Option<SessionName>,
        at_sequence: Option<u64>,
    ) -> Result<Session, ServiceError> {
        let parent = self.deps.repos.sessions.get(id, ctx.scope()).await?;
        let at_message = match at_sequence {
            None => None,
            Some(sequence) => Some(self.branch_point(id, sequence).await?),
        };
        let conversation = parent.agent_session_id.clone().ok_or_else(|| {
            ServiceError::Conflict("the session has no conversation to fork yet".to_owned())
        })?;
        if parent.status() == SessionStatus::Processing {
            return Err(ServiceError::Conflict(
                "the session is mid-turn: fork it when the turn has ended".to_owned(),
            ));
        }
        if parent
            .host_node
            .as_deref()
            .is_some_and(|node| node != self.node)
        {
            return Err(ServiceError::Conflict(format!(
                "the session's files are on node {}: fork it there",
                parent.host_node.as_deref().unwrap_or_default()
            )));
        }
        let from = parent.working_directory_path.clone().ok_or_else(|| {
            ServiceError::Conflict("the session has no working directory".to_owned())
        })?;
        let name = match name {
            Some(name) => name,
            None => SessionName::new(format!("{} (fork)", parent.name))
                .or_else(|_| SessionName::new("fork"))?,
        };
        let new_id = SessionId::from_uuid(self.deps.ids.new_id());
        let new = NewSession {
            user_id: parent.user_id,
            name,
            description: parent.description.clone(),
            mode: SessionMode::Interactive,
            options: parent.options.clone(),
        };
        let mut session = Session::new(new_id, new, self.deps.clock.now())?;
        session.host_node = Some(self.node.clone());
        session.agent_session_id = Some(conversation.clone());
        session.forked_from = Some(Fork {
            session: parent.id,
            conversation: conversation.clone(),
            at_message,
        });
        // The parent's agent may still be writing its conversation: an idle one is closed (it
        // resumes on its next message, as after an idle timeout) so the copy is whole.
        if !self.pool.hibernate_idle(parent.id).await {
            return Err(ServiceError::Conflict(
                "the session is mid-turn: fork it when the turn has ended".to_owned(),
            ));
        }
        let creating = self.creating.lock().await;
        self.check_open_sessions(parent.user_id).await?;
        let workdir = self
            .workspaces
            .copy(new_id, std::path::Path::new(&from))
            .await?;
        let copied = self
            .pool
            .copy_conversation(std::path::Path::new(&from), &workdir, &conversation)
            .await;
        if let Err(err) = copied {
            let _ = self.workspaces.discard(&workdir).await;
            return Err(err.into());
        }
        session.working_directory_path = Some(workdir.display().to_string());
        if let Err(err) = self.deps.repos.sessions.insert(&session).await {
            let _ = self.workspaces.discard(&workdir).await;
            return Err(err.into());
        }
        drop(creating);
        self.audit
            .record(
                AuditRecord {
                    actor: Some(ctx.user_id),
                    action: AuditAction::SessionForked,
                    resource_type: "session",
                    resource_id: Some(new_id.to_string()),
                    details: json!({"forked_from": parent.id, "name": session.name, "at_sequence": at_sequence}),
                },
                Some(ctx),
            )
            .await?;
        Ok(session)
    }

    /// The agent's id of the assistant message `sequence` of `session`, where a fork may
    /// branch off.
    async fn branch_point(
        &self,
        session: SessionId,
        sequence: u64,
    ) -> Result<String, ServiceError> {
        let refused = || {
            ServiceError::Validation(ValidationError::new(
                "at_sequence",
                format!(
                    "{sequence} is not the sequence number of an assistant message of the session"
                ),
            ))
        };
        let found = self
            .deps
            .repos
            .messages
            .list_after(session, sequence.saturating_sub(1), 1)
            .await?;
        found
            .into_iter()
            .find(|m| m.sequence_number == sequence && m.message_type == MessageType::Assistant)
            .and_then(|m| m.body.agent_message_id)
            .ok_or_else(refused)
    }
}
