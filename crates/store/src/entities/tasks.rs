use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub prompt_template: String,
    pub variables: Json,
    pub sdk_options: Json,
    pub is_active: bool,
    pub is_deleted: bool,
    pub generate_report: bool,
    pub report_format: String,
    pub schedule: Option<String>,
    pub schedule_timezone: Option<String>,
    pub schedule_missed_ticks: Option<String>,
    pub version: i32,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
