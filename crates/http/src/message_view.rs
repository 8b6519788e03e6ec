//! How a message reads in the API: typed content blocks independent of the agent's frame
//! format; the frame itself only on request (`?include=raw`).

use overseer_domain::{ContentBlock, Message, TokenUsage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::views::at;

/// What a list of messages (or a stream) may add to each message.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Include {
    /// The agent's frame as it sent it, as `raw`.
    Raw,
}

/// One block of a message's content, tagged by `type`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockView {
    /// Text for the reader.
    Text { text: String },
    /// The model's reasoning, when shown.
    Thinking { text: String },
    /// The model asks to run a tool.
    ToolUse {
        id: String,
        name: String,
        #[schema(value_type = Object)]
        input: Value,
    },
    /// A tool's result: `content` is the text the model read.
    ToolResult {
        tool_use_id: String,
        content: String,
        is_error: bool,
    },
    /// The turn or the agent failed: why.
    Error { text: String },
}

impl From<ContentBlock> for BlockView {
    fn from(block: ContentBlock) -> Self {
        match block {
            ContentBlock::Text { text } => Self::Text { text },
            ContentBlock::Thinking { text } => Self::Thinking { text },
            ContentBlock::ToolUse { id, name, input } => Self::ToolUse { id, name, input },
            ContentBlock::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => Self::ToolResult {
                tool_use_id,
                content,
                is_error,
            },
            ContentBlock::Error { text } => Self::Error { text },
        }
    }
}

/// A turn's token counts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageView {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl From<TokenUsage> for UsageView {
    fn from(u: TokenUsage) -> Self {
        Self {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_creation_input_tokens: u.cache_creation_input_tokens,
            cache_read_input_tokens: u.cache_read_input_tokens,
        }
    }
}

/// One message of a session's conversation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub id: String,
    pub sequence_number: u64,
    /// `user`, `assistant`, `system`, `result` or `tool_result`.
    pub message_type: String,
    pub role: Option<String>,
    /// The content, in typed blocks; a `result` message has an `error` block when the turn
    /// failed and none otherwise (its text is in the assistant messages before it).
    pub blocks: Vec<BlockView>,
    /// The model that wrote it, when known.
    pub model: Option<String>,
    /// The turn's token counts, on `result` messages.
    pub usage: Option<UsageView>,
    /// Set for a sub-agent's traffic: the tool use it works for.
    pub parent_tool_use_id: Option<String>,
    /// The turn's structured result, on the `result` message of a run with an output schema.
    #[schema(value_type = Option<Object>)]
    pub structured_output: Option<Value>,
    pub created_at: String,
    /// The agent's frame as it sent it: only with `?include=raw`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub raw: Option<Value>,
}

impl MessageView {
    /// The view of `m`, with its raw frame when `include` asks for it.
    #[must_use]
    pub fn new(m: Message, include: Option<Include>) -> Self {
        let body = m.body;
        Self {
            id: m.id.to_string(),
            sequence_number: m.sequence_number,
            message_type: m.message_type.to_string(),
            role: m.role.map(|r| r.to_string()),
            blocks: body.blocks.into_iter().map(BlockView::from).collect(),
            model: body.model,
            usage: body.usage.map(UsageView::from),
            parent_tool_use_id: body.parent_tool_use_id,
            structured_output: body.structured_output,
            created_at: at(m.created_at),
            raw: (include == Some(Include::Raw)).then_some(body.raw),
        }
    }
}

/// A page of messages: those after `after`, in order; `next_after` is where the next page
/// starts (`null` when this one is empty).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessagePage {
    pub items: Vec<MessageView>,
    pub after: u64,
    pub next_after: Option<u64>,
}

#[cfg(test)]
mod tests {
    use overseer_domain::{MessageBody, MessageId, MessageType, SessionId};
    use serde_json::json;

    use super::*;

    /// The API's blocks are the domain's blocks, field for field.
    #[test]
    fn blocks_read_as_the_domain_writes_them() {
        let message = Message {
            id: MessageId::from_uuid(uuid::Uuid::now_v7()),
            session_id: SessionId::from_uuid(uuid::Uuid::now_v7()),
            message_type: MessageType::Assistant,
            role: None,
            body: MessageBody {
                blocks: vec![
                    ContentBlock::Text { text: "hi".into() },
                    ContentBlock::Thinking { text: "hm".into() },
                    ContentBlock::ToolUse {
                        id: "toolu_1".into(),
                        name: "Bash".into(),
                        input: json!({"command": "ls"}),
                    },
                    ContentBlock::ToolResult {
                        tool_use_id: "toolu_1".into(),
                        content: "a.txt".into(),
                        is_error: false,
                    },
                    ContentBlock::Error { text: "no".into() },
                ],
                usage: Some(TokenUsage {
                    input_tokens: 1,
                    output_tokens: 2,
                    cache_creation_input_tokens: 3,
                    cache_read_input_tokens: 4,
                }),
                raw: json!({"type": "assistant"}),
                ..MessageBody::default()
            },
            sequence_number: 1,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let view = serde_json::to_value(MessageView::new(message.clone(), None)).unwrap();
        assert_eq!(
            view["blocks"],
            serde_json::to_value(&message.body.blocks).unwrap()
        );
        assert_eq!(
            view["usage"],
            serde_json::to_value(message.body.usage).unwrap()
        );
        assert!(view.get("raw").is_none(), "{view}");
        let with_raw =
            serde_json::to_value(MessageView::new(message.clone(), Some(Include::Raw))).unwrap();
        assert_eq!(with_raw["raw"], message.body.raw);
    }
}
