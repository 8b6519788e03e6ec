//! Messages of a session's conversation, in order.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::ids::{MessageId, SessionId};
use crate::string_enum::string_enum;

string_enum!(
    /// What kind of frame a message was.
    MessageType("message_type") {
        User => "user",
        Assistant => "assistant",
        System => "system",
        Result => "result",
        ToolResult => "tool_result",
    }
);

string_enum!(
    /// Who spoke.
    MessageRole("role") {
        User => "user",
        Assistant => "assistant",
        System => "system",
    }
);

/// A message to append; the store assigns its sequence number.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMessage {
    pub id: MessageId,
    pub session_id: SessionId,
    pub message_type: MessageType,
    pub role: Option<MessageRole>,
    pub content: Value,
    pub created_at: OffsetDateTime,
}

/// A stored message. `sequence_number` runs 1, 2, 3 … per session with no gap.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub session_id: SessionId,
    pub message_type: MessageType,
    pub role: Option<MessageRole>,
    pub content: Value,
    pub sequence_number: u64,
    pub created_at: OffsetDateTime,
}

impl Message {
    /// The stored form of `new` with its assigned sequence number.
    #[must_use]
    pub fn from_new(new: NewMessage, sequence_number: u64) -> Self {
        Self {
            id: new.id,
            session_id: new.session_id,
            message_type: new.message_type,
            role: new.role,
            content: new.content,
            sequence_number,
            created_at: new.created_at,
        }
    }

    /// The text of a user message (as recorded by [`MessageContent::user`]); `None` for any
    /// other message.
    #[must_use]
    pub fn user_text(&self) -> Option<&str> {
        (self.message_type == MessageType::User)
            .then(|| self.content.pointer("/message/content"))
            .flatten()
            .and_then(Value::as_str)
    }
}

/// The recorded content of the messages Overseer writes itself (the agent's own frames are
/// recorded as the agent sent them). The shapes match the agent's frames of the same kind, so a
/// reader handles one format.
#[derive(Debug)]
pub struct MessageContent;

impl MessageContent {
    /// A user's message: `{"type": "user", "message": {"role": "user", "content": text}}`.
    #[must_use]
    pub fn user(text: &str) -> Value {
        json!({"type": "user", "message": {"role": "user", "content": text}})
    }

    /// The agent failed: `{"type": "error", "message": …, "exit_code": …}`.
    #[must_use]
    pub fn agent_failure(message: &str, exit_code: Option<i32>) -> Value {
        json!({"type": "error", "message": message, "exit_code": exit_code})
    }
}
