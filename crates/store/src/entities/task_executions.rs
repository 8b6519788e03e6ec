use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "task_executions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub task_id: Uuid,
    pub user_id: Uuid,
    pub session_id: Option<Uuid>,
    pub trigger_type: String,
    pub variables: Json,
    pub task_snapshot: Json,
    pub status: String,
    pub error_message: Option<String>,
    pub started_at: Option<TimeDateTimeWithTimeZone>,
    pub completed_at: Option<TimeDateTimeWithTimeZone>,
    pub duration_seconds: Option<f64>,
    pub result_message_id: Option<Uuid>,
    pub structured_output: Option<Json>,
    pub report_id: Option<Uuid>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<TimeDateTimeWithTimeZone>,
    pub attempts: i32,
    pub agent_started_at: Option<TimeDateTimeWithTimeZone>,
    pub scheduled_for: Option<TimeDateTimeWithTimeZone>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
