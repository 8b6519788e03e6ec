//! Turns agent events into the session's record: messages (gap-free sequence numbers), tool
//! calls linked to their message, usage and cost, then a live event. Persist first, broadcast
//! second: a subscriber never sees what the database does not hold.
//!
//! One assistant frame (one content block) becomes one message. Frames of one model message
//! share its `message.id`, kept in the stored content, so readers can group them; storing them
//! separately keeps the order exactly as streamed and lets each block be broadcast at once.

use std::sync::Arc;

use overseer_domain::{
    ContentBlock as Block, Message, MessageBody, MessageId, MessageRole, MessageType, NewMessage,
    SessionId,
};
use overseer_ports::EventBroadcaster;
use overseer_ports::agent::{AgentEvent, ContentBlock};
use overseer_ports::repositories::UsageDelta;
use serde_json::Value;

use crate::callbacks::tool_tracking::{ToolEvent, ToolTracker, ToolUse};
use crate::context::Deps;
use crate::error::ServiceError;
use crate::events::live::message_event;

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

/// Where an event's message was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordedMessage {
    /// The message.
    pub id: MessageId,
    /// Its place in the session.
    pub sequence_number: u64,
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
        body: MessageBody,
    ) -> Result<Message, ServiceError> {
        let draft = self.draft(session, message_type, role, body);
        let message = self.deps.repos.messages.append(draft).await?;
        self.broadcaster.publish(message_event(message.clone()));
        Ok(message)
    }

    fn draft(
        &self,
        session: SessionId,
        message_type: MessageType,
        role: Option<MessageRole>,
        body: MessageBody,
    ) -> NewMessage {
        NewMessage {
            id: MessageId::from_uuid(self.deps.ids.new_id()),
            session_id: session,
            message_type,
            role,
            body,
            created_at: self.deps.clock.now(),
        }
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
        let body = MessageBody::user(text);
        self.persist(session, MessageType::User, Some(MessageRole::User), body)
            .await
    }

    /// Records events that arrived together (group commit): their messages and the tool calls
    /// they mention in one write, then one live event per message, in order. Returns, for
    /// each event, where its message was stored, if it makes one.
    ///
    /// Each event's frame (`raw`) moves into its message rather than being copied: the events
    /// are left holding `Value::Null` there. (Copies of every frame were a large share of the
    /// service's own time when events flood in: benchmark (c).)
    ///
    /// # Errors
    /// [`ServiceError::Storage`] and friends; nothing is broadcast then.
    pub async fn handle_all(
        &self,
        session: SessionId,
        events: &mut [AgentEvent],
        cost: &mut CostCursor,
        process: Option<u32>,
    ) -> Result<Vec<Option<RecordedMessage>>, ServiceError> {
        let mut positions = Vec::with_capacity(events.len());
        let mut drafts = Vec::with_capacity(events.len());
        for (position, event) in events.iter_mut().enumerate() {
            let Some((message_type, role, body)) =
                self.record_fields(session, event, cost, process).await?
            else {
                continue;
            };
            positions.push(position);
            drafts.push(self.draft(session, message_type, role, body));
        }

        let mut tool_events = Vec::new();
        for (&position, draft) in positions.iter().zip(&drafts) {
            match &events[position] {
                AgentEvent::Assistant(block) => {
                    if let ContentBlock::ToolUse { id, name, input } = &block.block {
                        let tool_use = ToolUse {
                            session,
                            tool_use_id: id,
                            tool_name: name,
                            input,
                        };
                        let requested = ToolEvent::Requested {
                            message: draft.id,
                            parent_tool_use_id: block.parent_tool_use_id.as_deref(),
                        };
                        tool_events.push((tool_use, requested));
                    }
                }
                AgentEvent::ToolResult(result) => {
                    let tool_use = ToolUse {
                        session,
                        tool_use_id: &result.tool_use_id,
                        tool_name: "",
                        input: &Value::Null,
                    };
                    let finished = ToolEvent::Finished {
                        text: &result.text,
                        structured: result.structured.as_ref(),
                        is_error: result.is_error,
                    };
                    tool_events.push((tool_use, finished));
                }
                _ => {}
            }
        }
        // The session's tool calls stay locked until their writes are stored.
        let tool_calls = self.tracker.prepare_all(session, &tool_events).await?;
        let stored = self
            .deps
            .repos
            .messages
            .append_with(session, drafts, &tool_calls.writes)
            .await?;
        drop(tool_calls);

        let mut by_event = vec![None; events.len()];
        for (position, message) in positions.into_iter().zip(stored) {
            by_event[position] = Some(RecordedMessage {
                id: message.id,
                sequence_number: message.sequence_number,
            });
            self.broadcaster.publish(message_event(message));
        }
        Ok(by_event)
    }

    /// What an event stores as its message (`None`: not part of the record), after writing
    /// what it changes in the session (agent session id, usage and cost). Takes the event's
    /// frame.
    async fn record_fields(
        &self,
        session: SessionId,
        event: &mut AgentEvent,
        cost: &mut CostCursor,
        process: Option<u32>,
    ) -> Result<Option<(MessageType, Option<MessageRole>, MessageBody)>, ServiceError> {
        let system = (MessageType::System, Some(MessageRole::System));
        let ((message_type, role), body) = match event {
            AgentEvent::Init(init) => {
                if !init.agent_session_id.is_empty() {
                    self.deps
                        .repos
                        .sessions
                        .set_agent_session_id(session, &init.agent_session_id)
                        .await?;
                }
                let body = MessageBody {
                    model: init.model.clone(),
                    ..raw_only(&mut init.raw)
                };
                (system, body)
            }
            AgentEvent::Assistant(block) => {
                let body = MessageBody {
                    blocks: assistant_block(&block.block).into_iter().collect(),
                    model: block.model.clone(),
                    parent_tool_use_id: block.parent_tool_use_id.clone(),
                    agent_message_id: block.message_uuid.clone(),
                    ..raw_only(&mut block.raw)
                };
                ((MessageType::Assistant, Some(MessageRole::Assistant)), body)
            }
            AgentEvent::ToolResult(result) => {
                let body = MessageBody {
                    blocks: vec![Block::ToolResult {
                        tool_use_id: result.tool_use_id.clone(),
                        content: result.text.clone(),
                        is_error: result.is_error,
                    }],
                    parent_tool_use_id: result.parent_tool_use_id.clone(),
                    ..raw_only(&mut result.raw)
                };
                ((MessageType::ToolResult, Some(MessageRole::User)), body)
            }
            AgentEvent::TurnEnded(result) => {
                let delta = UsageDelta {
                    input_tokens: result.usage.input_tokens,
                    output_tokens: result.usage.output_tokens,
                    cost_usd: cost.advance(process, result.total_cost_usd),
                };
                self.deps.repos.sessions.add_usage(session, delta).await?;
                // A successful turn's text is already in its assistant messages.
                let blocks = if result.is_error {
                    vec![Block::Error {
                        text: result
                            .result
                            .clone()
                            .unwrap_or_else(|| result.subtype.clone()),
                    }]
                } else {
                    Vec::new()
                };
                let body = MessageBody {
                    blocks,
                    usage: Some(result.usage),
                    structured_output: result.structured_output.clone(),
                    ..raw_only(&mut result.raw)
                };
                ((MessageType::Result, None), body)
            }
            AgentEvent::ApiRetry(retry) => (system, raw_only(&mut retry.raw)),
            AgentEvent::Other(raw) => (system, raw_only(raw)),
            AgentEvent::Failed(failure) => (
                system,
                MessageBody::agent_failure(&failure.message, failure.exit_code),
            ),
            // Token-level deltas are not part of the record.
            AgentEvent::Stream(_) => return Ok(None),
        };
        Ok(Some((message_type, role, body)))
    }
}

/// A message with no blocks: only the agent's frame, taken from its event.
fn raw_only(raw: &mut Value) -> MessageBody {
    MessageBody {
        raw: std::mem::take(raw),
        ..MessageBody::default()
    }
}

/// The stable block for one block of an assistant frame; `None` for a kind this service does
/// not model (its frame is kept).
fn assistant_block(block: &ContentBlock) -> Option<Block> {
    match block {
        ContentBlock::Text(text) => Some(Block::Text { text: text.clone() }),
        ContentBlock::Thinking(text) => Some(Block::Thinking { text: text.clone() }),
        ContentBlock::ToolUse { id, name, input } => Some(Block::ToolUse {
            id: id.clone(),
            name: name.clone(),
            input: input.clone(),
        }),
        ContentBlock::Other(_) => None,
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
    use overseer_ports::{MockEventBroadcaster, PageRequest, Repositories, Scope};
    use overseer_testkit::{MemoryStore, fixtures};
    use serde_json::json;

    use super::*;

    impl MessageProcessor {
        /// Records one event. Returns the stored message, if the event is one.
        ///
        /// # Errors
        /// [`ServiceError::Storage`] and friends.
        pub async fn handle(
            &self,
            session: SessionId,
            event: AgentEvent,
            cost: &mut CostCursor,
            process: Option<u32>,
        ) -> Result<Option<RecordedMessage>, ServiceError> {
            let mut stored = self
                .handle_all(session, &mut [event], cost, process)
                .await?;
            Ok(stored.pop().flatten())
        }
    }

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
        let deps = Deps::system(repos.clone());

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
        let tool_use = bash_tool_use("toolu_1");
        let asked = processor
            .handle(session.id, tool_use, &mut cost, Some(1))
            .await
            .unwrap()
            .unwrap();
        let result = tool_result("toolu_1", "a.txt");
        processor
            .handle(session.id, result, &mut cost, Some(1))
            .await
            .unwrap();
        assert!(
            processor
                .handle(
                    session.id,
                    AgentEvent::Stream(json!({})),
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
                AgentEvent::Other(json!({"type": "new_kind"})),
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

    /// Events that arrived together are stored in one write, messages and tool calls together:
    /// a tool use and its result in the same batch make one completed row linked to its message.
    #[tokio::test]
    async fn a_batch_is_stored_in_one_write_then_broadcast_in_order() {
        let memory = MemoryStore::new().repositories();
        let owner = fixtures::user("a@example.com");
        memory.users.insert(&owner).await.unwrap();
        let session = fixtures::session(owner.id, fixtures::EPOCH);
        memory.sessions.insert(&session).await.unwrap();

        // Single writes are refused: only the grouped one may be used.
        let mut messages = overseer_ports::repositories::MockMessageRepository::new();
        let store = memory.messages.clone();
        messages
            .expect_append_with()
            .times(1)
            .returning(move |session, batch, calls| {
                assert_eq!(calls.len(), 1, "the tool call goes with its messages");
                poll_now(store.append_with(session, batch, calls))
            });
        messages.expect_append_all().never();
        messages.expect_append().never();
        let mut tool_repo = overseer_ports::repositories::MockToolCallRepository::new();
        let finder = memory.tool_calls.clone();
        tool_repo
            .expect_find_by_tool_use_ids()
            .times(1)
            .returning(move |session, ids| poll_now(finder.find_by_tool_use_ids(session, ids)));
        tool_repo.expect_save_all().never();
        tool_repo.expect_insert().never();
        tool_repo.expect_update().never();
        let mut repos = memory.clone();
        repos.messages = Arc::new(messages);
        repos.tool_calls = Arc::new(tool_repo);
        let deps = Deps::system(repos);
        let published = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut broadcaster = MockEventBroadcaster::new();
        let seen = published.clone();
        broadcaster.expect_publish().returning(move |event| {
            let overseer_ports::LiveEventBody::Message(message) = event.body else {
                panic!("a message event: {event:?}")
            };
            seen.lock()
                .unwrap()
                .push((event.sequence, message.body.raw.clone()));
        });
        let processor = MessageProcessor::new(
            deps.clone(),
            Arc::new(ToolTracker::new(deps)),
            Arc::new(broadcaster),
        );

        let mut events = [
            bash_tool_use("toolu_1"),
            AgentEvent::Stream(json!({})),
            tool_result("toolu_1", "a.txt"),
            AgentEvent::Other(json!({"type": "new_kind"})),
        ];
        let stored = processor
            .handle_all(session.id, &mut events, &mut CostCursor::default(), Some(1))
            .await
            .unwrap();
        let numbers: Vec<Option<u64>> = stored
            .iter()
            .map(|m| m.as_ref().map(|m| m.sequence_number))
            .collect();
        assert_eq!(numbers, vec![Some(1), None, Some(2), Some(3)]);
        // Each frame moved into its message: stored and broadcast, the events keep none.
        let frames = [
            json!({"type": "assistant", "message": {"id": "msg_1"}}),
            json!({"type": "user"}),
            json!({"type": "new_kind"}),
        ];
        let sent: Vec<(u64, Value)> = (1..).zip(frames.clone()).collect();
        assert_eq!(*published.lock().unwrap(), sent);
        let kept = memory
            .messages
            .list_after(session.id, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.body.raw)
            .collect::<Vec<_>>();
        assert_eq!(kept, frames);
        assert!(matches!(&events[0], AgentEvent::Assistant(b) if b.raw.is_null()));
        let calls = tool_calls(&memory, session.id).await;
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].status, ToolCallStatus::Completed);
        assert_eq!(
            calls[0].message_id,
            stored[0].as_ref().map(|m| m.id),
            "linked to the tool use's message"
        );
    }

    fn bash_tool_use(id: &str) -> AgentEvent {
        AgentEvent::Assistant(AssistantBlock {
            message_id: "msg_1".into(),
            model: None,
            parent_tool_use_id: None,
            message_uuid: None,
            block: ContentBlock::ToolUse {
                id: id.into(),
                name: "Bash".into(),
                input: json!({"command": "ls"}),
            },
            api_error: None,
            raw: json!({"type": "assistant", "message": {"id": "msg_1"}}),
        })
    }

    fn tool_result(id: &str, output: &str) -> AgentEvent {
        AgentEvent::ToolResult(ToolResultEvent {
            tool_use_id: id.into(),
            text: output.into(),
            structured: None,
            is_error: false,
            parent_tool_use_id: None,
            raw: json!({"type": "user"}),
        })
    }

    /// Runs a ready future (the in-memory store never waits) from a sync callback.
    fn futures_now<T>(
        future: impl std::future::Future<Output = Result<T, overseer_ports::RepoError>>,
    ) -> T {
        poll_now(future).unwrap()
    }

    fn poll_now<T>(future: impl std::future::Future<Output = T>) -> T {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let mut future = std::pin::pin!(future);
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(value) => value,
            std::task::Poll::Pending => panic!("the in-memory store does not wait"),
        }
    }
}
