use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use overseer_domain::{ApprovalId, Message, SessionId, SessionStatus};
use serde_json::{Value, json};

/// One live event of a session, published after what it reports was persisted.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveEvent {
    /// The session the event belongs to.
    pub session_id: SessionId,
    /// The persisted message's sequence number, or the last one for events that are not
    /// messages (status changes, approvals), so subscribers can resume with `after=`.
    pub sequence: u64,
    /// What happened, typed; [`LiveEvent::kind`] and [`LiveEvent::payload`] give its wire form.
    pub body: LiveEventBody,
}

/// What a live event reports. The wire form (`kind` and a JSON `payload`) is made in one place,
/// [`LiveEvent::payload`], so every publisher and every node sends the same shape.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveEventBody {
    /// A stored message, shared: every subscriber receives its own copy of the event, and a
    /// copy of a message event must not copy the message (with its frame) for each one.
    Message(Arc<SharedMessage>),
    /// A tool waits for a person's approval; `reason` is the rule that asked (known only on
    /// the node that asked).
    Approval {
        /// The approval.
        approval_id: ApprovalId,
        /// The tool that waits for it.
        tool_name: String,
        /// The tool's input.
        tool_input: Value,
        /// The model's id for the tool use.
        tool_use_id: Option<String>,
        /// Why a person is asked, when a rule says.
        reason: Option<String>,
        /// Unix seconds.
        expires_at: i64,
    },
    /// The session's status changed.
    Status {
        /// The status before.
        from: SessionStatus,
        /// The status now.
        to: SessionStatus,
        /// Why it failed, for `failed`.
        error_message: Option<String>,
    },
    /// The session's start waits for an agent slot (every live agent is mid-turn); 1 is next.
    AgentWaiting {
        /// Place in the queue for a slot (1: next).
        queue_position: usize,
    },
    /// A turn could not run (nothing was stored for it); `limit` names the setting that
    /// bounded it, if one did.
    TurnFailed {
        /// Why, for people.
        reason: String,
        /// The setting that bounded it, if one did (e.g. `agent_start_timeout_seconds`).
        limit: Option<String>,
    },
    /// One of the agent's hooks that is not about a tool fired (a sub-agent started, the turn
    /// is about to stop …); `details` as the agent described it (long texts cut).
    Hook {
        /// Which hook.
        hook: crate::agent::HookKind,
        /// What the agent said about it.
        details: Value,
    },
}

/// The kinds of live events, as their wire names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveEventKind {
    /// A message was stored.
    Message,
    /// An approval was asked or answered.
    Approval,
    /// The session's status changed.
    Status,
    /// The session's agent changed state (waiting for a slot …).
    Agent,
    /// A turn could not run.
    TurnFailed,
    /// One of the agent's hooks that is not about a tool fired.
    Hook,
}

impl LiveEventKind {
    /// The wire name (`kind` of a stream frame, `event:` of an SSE one).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Approval => "approval",
            Self::Status => "status",
            Self::Agent => "agent",
            Self::TurnFailed => "turn_failed",
            Self::Hook => "hook",
        }
    }
}

impl LiveEvent {
    /// Which kind of event this is.
    #[must_use]
    pub fn kind(&self) -> LiveEventKind {
        match self.body {
            LiveEventBody::Message(_) => LiveEventKind::Message,
            LiveEventBody::Approval { .. } => LiveEventKind::Approval,
            LiveEventBody::Status { .. } => LiveEventKind::Status,
            LiveEventBody::AgentWaiting { .. } => LiveEventKind::Agent,
            LiveEventBody::TurnFailed { .. } => LiveEventKind::TurnFailed,
            LiveEventBody::Hook { .. } => LiveEventKind::Hook,
        }
    }

    /// [`Self::payload`] as JSON text. For a message, rendered once for all the subscribers
    /// that share it.
    #[must_use]
    pub fn payload_text(&self) -> Arc<str> {
        match &self.body {
            LiveEventBody::Message(message) => message.payload_text(),
            _ => Arc::from(self.payload().to_string()),
        }
    }

    /// The event's JSON payload, as subscribers receive it.
    #[must_use]
    pub fn payload(&self) -> Value {
        match &self.body {
            LiveEventBody::Message(message) => message_payload(message),
            LiveEventBody::Approval {
                approval_id,
                tool_name,
                tool_input,
                tool_use_id,
                reason,
                expires_at,
            } => json!({
                "approval_id": approval_id, "tool_name": tool_name, "tool_input": tool_input,
                "tool_use_id": tool_use_id, "reason": reason, "expires_at": expires_at,
            }),
            LiveEventBody::Status {
                from,
                to,
                error_message,
            } => json!({"from": from, "to": to, "error_message": error_message}),
            LiveEventBody::AgentWaiting { queue_position } => {
                json!({"agent_state": "waiting", "queue_position": queue_position})
            }
            LiveEventBody::TurnFailed { reason, limit } => {
                json!({"reason": reason, "limit": limit})
            }
            LiveEventBody::Hook { hook, details } => {
                json!({"hook": hook.as_str(), "details": details})
            }
        }
    }
}

/// A stored message as live events carry it: one per message, shared by every subscriber's copy
/// of the event, its payload rendered as text at most once for all of them. Reads as the
/// [`Message`] it holds.
#[derive(Debug)]
pub struct SharedMessage {
    message: Message,
    payload: OnceLock<Arc<str>>,
}

impl SharedMessage {
    /// Shares `message`; nothing is rendered yet.
    #[must_use]
    pub fn new(message: Message) -> Self {
        Self {
            message,
            payload: OnceLock::new(),
        }
    }

    /// [`message_payload`] as JSON text, rendered on the first call.
    #[must_use]
    pub fn payload_text(&self) -> Arc<str> {
        self.payload
            .get_or_init(|| Arc::from(message_payload(&self.message).to_string()))
            .clone()
    }
}

impl Deref for SharedMessage {
    type Target = Message;

    fn deref(&self) -> &Message {
        &self.message
    }
}

impl PartialEq for SharedMessage {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

/// A message as a live event carries it: its typed blocks and what is known beside them, never
/// the agent's raw frame (a stream asks for that separately).
#[must_use]
pub fn message_payload(message: &Message) -> Value {
    let body = &message.body;
    json!({
        "message_id": message.id,
        "message_type": message.message_type,
        "role": message.role,
        "blocks": body.blocks,
        "model": body.model,
        "usage": body.usage,
        "parent_tool_use_id": body.parent_tool_use_id,
        "structured_output": body.structured_output,
    })
}

/// Delivers live events to a session's subscribers. Never blocks the publisher.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait EventBroadcaster: Send + Sync {
    /// Hands `event` to this node's subscribers of its session; never waits for them.
    fn publish(&self, event: LiveEvent);
}

/// Why a subscription cannot be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the session already has {max} live subscribers")]
pub struct SubscribersFull {
    /// The most subscribers a session may have.
    pub max: usize,
}

/// Why a subscription yields no event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionEnd {
    /// The subscriber fell behind: `missed` events are gone (resume from the store).
    #[error("{missed} events missed")]
    Lagged {
        /// Events lost.
        missed: u64,
    },
    /// Nothing more will come.
    #[error("the event stream closed")]
    Closed,
}

/// One session's live events, from the moment it was opened.
#[async_trait::async_trait]
pub trait Subscription: Send {
    /// The next event.
    ///
    /// # Errors
    /// [`SubscriptionEnd::Lagged`] when the subscriber fell behind (the next call goes on with
    /// the events still kept); [`SubscriptionEnd::Closed`] when none will come any more.
    async fn next(&mut self) -> Result<LiveEvent, SubscriptionEnd>;
}

/// Opens subscriptions to sessions' live events: what the HTTP stream reads from, whatever
/// broadcaster publishes them.
pub trait EventSubscriber: Send + Sync {
    /// Subscribes to `session`'s events published from now on, unless it already has `max`
    /// subscribers.
    ///
    /// # Errors
    /// [`SubscribersFull`] with the cap.
    fn subscribe(
        &self,
        session: SessionId,
        max: usize,
    ) -> Result<Box<dyn Subscription>, SubscribersFull>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_keeps_its_wire_name_and_payload_shape() {
        let session = SessionId::from_uuid(uuid::Uuid::nil());
        let event = |body| LiveEvent {
            session_id: session,
            sequence: 3,
            body,
        };
        let status = event(LiveEventBody::Status {
            from: SessionStatus::Active,
            to: SessionStatus::Processing,
            error_message: None,
        });
        assert_eq!(status.kind().as_str(), "status");
        assert_eq!(
            status.payload(),
            json!({"from": "active", "to": "processing", "error_message": null})
        );
        let waiting = event(LiveEventBody::AgentWaiting { queue_position: 2 });
        assert_eq!(waiting.kind().as_str(), "agent");
        assert_eq!(
            waiting.payload(),
            json!({"agent_state": "waiting", "queue_position": 2})
        );
        let failed = event(LiveEventBody::TurnFailed {
            reason: "no slot".into(),
            limit: Some("agent_start_timeout_seconds".into()),
        });
        assert_eq!(failed.kind().as_str(), "turn_failed");
        assert_eq!(failed.payload()["limit"], "agent_start_timeout_seconds");
    }
}
