//! Schedules: a task's cron pattern is read in its time zone with a missed-tick policy, and a
//! scheduled run names its tick; the unique `(task_id, scheduled_for)` makes each tick run
//! once however many nodes see it (NULLs, the other runs, never collide).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string_null, timestamp_with_time_zone_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    ScheduleTimezone,
    ScheduleMissedTicks,
}

#[derive(DeriveIden)]
enum TaskExecutions {
    Table,
    TaskId,
    ScheduledFor,
}

const TICK_INDEX: &str = "idx_executions_task_tick";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for column in [
            string_null(Tasks::ScheduleTimezone),
            string_null(Tasks::ScheduleMissedTicks),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Tasks::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(TaskExecutions::Table)
                    .add_column(timestamp_with_time_zone_null(TaskExecutions::ScheduledFor))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(TICK_INDEX)
                    .table(TaskExecutions::Table)
                    .col(TaskExecutions::TaskId)
                    .col(TaskExecutions::ScheduledFor)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(TICK_INDEX)
                    .table(TaskExecutions::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(TaskExecutions::Table)
                    .drop_column(TaskExecutions::ScheduledFor)
                    .to_owned(),
            )
            .await?;
        for column in [Tasks::ScheduleTimezone, Tasks::ScheduleMissedTicks] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tasks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
