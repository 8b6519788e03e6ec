//! Turns agent events into the session's record: messages (gap-free sequence numbers), tool
//! calls linked to their message, usage and cost, then a live event. Persist first, broadcast
//! second: a subscriber never sees what the database does not hold.
//!
//! One assistant frame (one content block) becomes one message. Frames of one model message
//! share its `message.id`, kept in the stored content, so readers can group them; storing them
//! separately keeps the order exactly as streamed and lets each block be broadcast at once.

use std::sync::Arc;

use overseer_domain::{Message, MessageId, MessageRole, MessageType, NewMessage, SessionId};
use overseer_ports::EventBroadcaster;
use overseer_ports::agent::{AgentEvent, ContentBlock};
use overseer_ports::repositories::UsageDelta;
use serde_json::{Value, json};

use crate::context::Deps;
use crate::error::ServiceError;
use crate::live_events::message_event;
use crate::tool_tracking::{ToolTracker, ToolUse};

/// The CLI reports `total_cost_usd` cumulatively per process: the cursor remembers the last
/// total of the current process, so each turn adds only its own cost, and a new process
/// (restart, resume) starts from zero again.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CostCursor {
    pub process: Option<u32>,
    pub last_total_usd: f64,
    /// The cost of the last turn counted.
    pub last_turn_usd: f64,
}

impl CostCursor {
    /// The cost of the turn that brought the process total to `total`.
    pub fn advance(&mut self, process: Option<u32>, total: f64) -> f64 {
        if process != self.process {
            *self = Self {
                process,
                ..Self::default()
            };
        }
        let delta = (total - self.last_total_usd).max(0.0);
        self.last_total_usd = total.max(self.last_total_usd);
        self.last_turn_usd = delta;
        delta
    }
}

#[derive(Clone)]
pub struct MessageProcessor {
    deps: Deps,
    tracker: Arc<ToolTracker>,
    broadcaster: Arc<dyn EventBroadcaster>,
}

impl std::fmt::Debug for MessageProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageProcessor").finish_non_exhaustive()
    }
}

impl MessageProcessor {
    #[must_use]
    pub fn new(
        deps: Deps,
        tracker: Arc<ToolTracker>,
        broadcaster: Arc<dyn EventBroadcaster>,
    ) -> Self {
        Self {
            deps,
            tracker,
            broadcaster,
        }
    }

    async fn persist(
        &self,
        session: SessionId,
        message_type: MessageType,
        role: Option<MessageRole>,
        content: Value,
    ) -> Result<Message, ServiceError> {
        let message = self
            .deps
            .repos
            .messages
            .append(NewMessage {
                id: MessageId::from_uuid(self.deps.ids.new_id()),
                session_id: session,
                message_type,
                role,
                content,
                created_at: self.deps.clock.now(),
            })
            .await?;
        self.broadcaster.publish(message_event(&message));
        Ok(message)
    }

    /// Records the user's message before it is sent.
    ///
    /// # Errors
    /// [`ServiceError::Storage`] and friends.
    pub async fn user_message(
        &self,
        session: SessionId,
        text: &str,
    ) -> Result<Message, ServiceError> {
        let content = json!({"type": "user", "message": {"role": "user", "content": text}});
        self.persist(session, MessageType::User, Some(MessageRole::User), content)
            .await
    }

    /// The text of a message stored by [`MessageProcessor::user_message`].
    #[must_use]
    pub fn user_text(message: &Message) -> Option<&str> {
        (message.message_type == MessageType::User)
            .then(|| message.content.pointer("/message/content"))
            .flatten()
            .and_then(Value::as_str)
    }

    /// Records one event. Returns the stored message, if the event is one.
    ///
    /// # Errors
    /// [`ServiceError::Storage`] and friends.
    pub async fn handle(
        &self,
        session: SessionId,
        event: &AgentEvent,
        cost: &mut CostCursor,
        process: Option<u32>,
    ) -> Result<Option<Message>, ServiceError> {
        let message = match event {
            AgentEvent::Init(init) => {
                if !init.agent_session_id.is_empty() {
                    self.deps
                        .repos
                        .sessions
                        .set_agent_session_id(session, &init.agent_session_id)
                        .await?;
                }
                self.persist(
                    session,
                    MessageType::System,
                    Some(MessageRole::System),
                    init.raw.clone(),
                )
                .await?
            }
            AgentEvent::Assistant(block) => {
                let message = self
                    .persist(
                        session,
                        MessageType::Assistant,
                        Some(MessageRole::Assistant),
                        block.raw.clone(),
                    )
                    .await?;
                if let ContentBlock::ToolUse { id, name, input } = &block.block {
                    let tool_use = ToolUse {
                        session,
                        tool_use_id: id,
                        tool_name: name,
                        input,
                    };
                    self.tracker.requested(&tool_use, message.id).await?;
                }
                message
            }
            AgentEvent::ToolResult(result) => {
                let message = self
                    .persist(
                        session,
                        MessageType::ToolResult,
                        Some(MessageRole::User),
                        result.raw.clone(),
                    )
                    .await?;
                let tool_use = ToolUse {
                    session,
                    tool_use_id: &result.tool_use_id,
                    tool_name: "",
                    input: &Value::Null,
                };
                self.tracker
                    .finished(&tool_use, &result.content, result.is_error, None)
                    .await?;
                message
            }
            AgentEvent::TurnEnded(result) => {
                let delta = UsageDelta {
                    input_tokens: result.usage.input_tokens,
                    output_tokens: result.usage.output_tokens,
                    cost_usd: cost.advance(process, result.total_cost_usd),
                };
                self.deps.repos.sessions.add_usage(session, delta).await?;
                self.persist(session, MessageType::Result, None, result.raw.clone())
                    .await?
            }
            AgentEvent::ApiRetry(retry) => {
                self.persist(
                    session,
                    MessageType::System,
                    Some(MessageRole::System),
                    retry.raw.clone(),
                )
                .await?
            }
            AgentEvent::Other(raw) => {
                self.persist(
                    session,
                    MessageType::System,
                    Some(MessageRole::System),
                    raw.clone(),
                )
                .await?
            }
            AgentEvent::Failed(failure) => {
                let content = json!({"type": "error", "message": failure.message, "exit_code": failure.exit_code});
                self.persist(
                    session,
                    MessageType::System,
                    Some(MessageRole::System),
                    content,
                )
                .await?
            }
            // Token-level deltas are not part of the record.
            AgentEvent::Stream(_) => return Ok(None),
        };
        Ok(Some(message))
    }
}

#[cfg(test)]
mod tests {
    use super::CostCursor;

    #[test]
    fn cost_counts_each_turn_once_and_restarts_with_the_process() {
        let mut cursor = CostCursor::default();
        assert!((cursor.advance(Some(1), 0.10) - 0.10).abs() < 1e-12);
        assert!(
            (cursor.advance(Some(1), 0.25) - 0.15).abs() < 1e-12,
            "cumulative total, not per turn"
        );
        // A resumed conversation in a new process reports from zero again.
        assert!((cursor.advance(Some(2), 0.05) - 0.05).abs() < 1e-12);
        assert!(
            (cursor.advance(Some(2), 0.05)).abs() < 1e-12,
            "no double count"
        );
    }
}

#[cfg(test)]
mod flow_tests {
    use overseer_domain::{ToolCall, ToolCallStatus};
    use overseer_ports::agent::{AssistantBlock, ToolResultEvent};
    use overseer_ports::{
        MockEventBroadcaster, PageRequest, RandomIds, Repositories, Scope, SystemClock,
    };
    use overseer_testkit::{MemoryStore, fixtures};

    use super::*;

    async fn tool_calls(repos: &Repositories, session: SessionId) -> Vec<ToolCall> {
        repos
            .tool_calls
            .list_for_session(session, PageRequest::default())
            .await
            .unwrap()
            .items
    }

    #[tokio::test]
    async fn persists_before_it_broadcasts_and_links_tool_calls() {
        let repos = MemoryStore::new().repositories();
        let owner = fixtures::user("a@example.com");
        repos.users.insert(&owner).await.unwrap();
        let session = fixtures::session(owner.id, fixtures::EPOCH);
        repos.sessions.insert(&session).await.unwrap();
        let deps = Deps {
            repos: repos.clone(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
        };

        // Each publish must find its message already stored.
        let check = repos.clone();
        let mut broadcaster = MockEventBroadcaster::new();
        broadcaster
            .expect_publish()
            .times(3)
            .returning(move |event| {
                let stored = futures_now(check.messages.list_after(
                    event.session_id,
                    event.sequence - 1,
                    1,
                ));
                assert_eq!(stored.len(), 1, "broadcast before persist: {event:?}");
            });
        let processor = MessageProcessor::new(
            deps.clone(),
            Arc::new(ToolTracker::new(deps)),
            Arc::new(broadcaster),
        );
        let mut cost = CostCursor::default();
        let tool_use = AgentEvent::Assistant(AssistantBlock {
            message_id: "msg_1".into(),
            model: None,
            parent_tool_use_id: None,
            block: ContentBlock::ToolUse {
                id: "toolu_1".into(),
                name: "Bash".into(),
                input: json!({"command": "ls"}),
            },
            api_error: None,
            raw: json!({"type": "assistant", "message": {"id": "msg_1"}}),
        });
        let asked = processor
            .handle(session.id, &tool_use, &mut cost, Some(1))
            .await
            .unwrap()
            .unwrap();
        let result = AgentEvent::ToolResult(ToolResultEvent {
            tool_use_id: "toolu_1".into(),
            content: json!("a.txt"),
            is_error: false,
            raw: json!({"type": "user"}),
        });
        processor
            .handle(session.id, &result, &mut cost, Some(1))
            .await
            .unwrap();
        assert!(
            processor
                .handle(
                    session.id,
                    &AgentEvent::Stream(json!({})),
                    &mut cost,
                    Some(1)
                )
                .await
                .unwrap()
                .is_none()
        );
        processor
            .handle(
                session.id,
                &AgentEvent::Other(json!({"type": "new_kind"})),
                &mut cost,
                Some(1),
            )
            .await
            .unwrap();

        let calls = tool_calls(&repos, session.id).await;
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].message_id, Some(asked.id));
        assert_eq!(calls[0].status, ToolCallStatus::Completed);
        assert_eq!(calls[0].tool_output.as_deref(), Some("a.txt"));
        let stored = repos.sessions.get(session.id, Scope::Admin).await.unwrap();
        assert_eq!(
            stored.usage.message_count, 3,
            "stream events are not part of the record"
        );
    }

    /// Runs a ready future (the in-memory store never waits) from a sync callback.
    fn futures_now<T>(
        future: impl std::future::Future<Output = Result<T, overseer_ports::RepoError>>,
    ) -> T {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let mut future = std::pin::pin!(future);
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(value) => value.unwrap(),
            std::task::Poll::Pending => panic!("the in-memory store does not wait"),
        }
    }
}
