use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub session_id: Uuid,
    pub message_type: String,
    pub role: Option<String>,
    /// The agent's frame as it sent it.
    pub content: Json,
    pub blocks: Option<Json>,
    pub model: Option<String>,
    pub usage: Option<Json>,
    pub parent_tool_use_id: Option<String>,
    pub structured_output: Option<Json>,
    pub agent_message_id: Option<String>,
    pub sequence_number: i64,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
