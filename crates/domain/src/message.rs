//! Messages of a session's conversation, in order.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::content_block::{ContentBlock, TokenUsage};
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

/// What a message says: typed blocks (see [`ContentBlock`]) and what is known beside them, plus
/// the frame it came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageBody {
    /// The content, independent of the agent's frame format.
    pub blocks: Vec<ContentBlock>,
    /// The model that wrote it, when known.
    pub model: Option<String>,
    /// The turn's token counts (on the message that ends a turn).
    pub usage: Option<TokenUsage>,
    /// Set for a sub-agent's traffic: the tool use (of the `Task`/`Agent` tool) it works for.
    pub parent_tool_use_id: Option<String>,
    /// The turn's structured result (on the message that ends a turn run with an output
    /// schema).
    pub structured_output: Option<Value>,
    /// The agent's own id of the message in its conversation (a fork may start after it).
    pub agent_message_id: Option<String>,
    /// The frame as the agent sent it; for the messages Overseer writes itself, a frame of the
    /// same shape (see [`MessageBody::user`]).
    pub raw: Value,
}

impl MessageBody {
    /// A person's message: one text block; raw
    /// `{"type": "user", "message": {"role": "user", "content": text}}`.
    #[must_use]
    pub fn user(text: &str) -> Self {
        Self {
            blocks: vec![ContentBlock::Text {
                text: text.to_owned(),
            }],
            raw: json!({"type": "user", "message": {"role": "user", "content": text}}),
            ..Self::default()
        }
    }

    /// The agent failed: one error block; raw `{"type": "error", "message", "exit_code"}`.
    #[must_use]
    pub fn agent_failure(message: &str, exit_code: Option<i32>) -> Self {
        Self {
            blocks: vec![ContentBlock::Error {
                text: message.to_owned(),
            }],
            raw: json!({"type": "error", "message": message, "exit_code": exit_code}),
            ..Self::default()
        }
    }

    /// The text of its text blocks, one per line.
    #[must_use]
    pub fn text(&self) -> String {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                ContentBlock::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A message to append; the store assigns its sequence number.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMessage {
    pub id: MessageId,
    pub session_id: SessionId,
    pub message_type: MessageType,
    pub role: Option<MessageRole>,
    pub body: MessageBody,
    pub created_at: OffsetDateTime,
}

/// A stored message. `sequence_number` runs 1, 2, 3 … per session with no gap.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub session_id: SessionId,
    pub message_type: MessageType,
    pub role: Option<MessageRole>,
    pub body: MessageBody,
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
            body: new.body,
            sequence_number,
            created_at: new.created_at,
        }
    }

    /// The text of a user message; `None` for any other message.
    #[must_use]
    pub fn user_text(&self) -> Option<String> {
        (self.message_type == MessageType::User).then(|| self.body.text())
    }
}
