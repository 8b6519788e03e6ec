//! The execution queue lives in `task_executions`: a lease (owner node, expiry) for running
//! rows, claim attempts, and when the agent started.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, string_null, timestamp_with_time_zone_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TaskExecutions {
    Table,
    Status,
    UserId,
    LeaseOwner,
    LeaseExpiresAt,
    Attempts,
    AgentStartedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for column in [
            string_null(TaskExecutions::LeaseOwner),
            timestamp_with_time_zone_null(TaskExecutions::LeaseExpiresAt),
            integer(TaskExecutions::Attempts).default(0).take(),
            timestamp_with_time_zone_null(TaskExecutions::AgentStartedAt),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(TaskExecutions::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // Claims: pending rows oldest first, running rows per user; recovery: expired leases.
        manager
            .create_index(
                Index::create()
                    .name("idx_executions_queue")
                    .table(TaskExecutions::Table)
                    .col(TaskExecutions::Status)
                    .col(TaskExecutions::UserId)
                    .col(TaskExecutions::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_executions_leases")
                    .table(TaskExecutions::Table)
                    .col(TaskExecutions::Status)
                    .col(TaskExecutions::LeaseExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in ["idx_executions_queue", "idx_executions_leases"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(index)
                        .table(TaskExecutions::Table)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            TaskExecutions::LeaseOwner,
            TaskExecutions::LeaseExpiresAt,
            TaskExecutions::Attempts,
            TaskExecutions::AgentStartedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(TaskExecutions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
