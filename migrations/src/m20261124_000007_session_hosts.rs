//! With several nodes on one database, a session lives on the node that created its working
//! directory: commands for it (messages, interrupts, approvals) are delivered there. And the
//! claim's fair share asks when each user was last served: an index makes that a lookup.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    HostNode,
}

#[derive(DeriveIden)]
enum TaskExecutions {
    Table,
    UserId,
    StartedAt,
}

const LAST_SERVED_INDEX: &str = "idx_executions_user_started";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(string_null(Sessions::HostNode))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(LAST_SERVED_INDEX)
                    .table(TaskExecutions::Table)
                    .col(TaskExecutions::UserId)
                    .col(TaskExecutions::StartedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(LAST_SERVED_INDEX)
                    .table(TaskExecutions::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::HostNode)
                    .to_owned(),
            )
            .await
    }
}
