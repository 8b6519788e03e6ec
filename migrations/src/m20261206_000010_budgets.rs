//! Budgets that ask: users get a monthly cost limit and a soft threshold per session
//! (`ask_above_usd`); what each task's runs cost per UTC day is kept, for a task's
//! `monthly_budget_usd`; an approval says what it asks about (a tool use, or a budget).

use sea_orm_migration::prelude::*;

use crate::columns::{add, drop};
use sea_orm_migration::schema::{double, double_null, string, string_len, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserQuotas {
    Table,
    MaxMonthlyCostUsd,
    AskAboveUsd,
}

#[derive(DeriveIden)]
enum TaskDailyCosts {
    Table,
    TaskId,
    /// `YYYY-MM-DD`, UTC.
    Day,
    CostUsd,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Approvals {
    Table,
    Kind,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add(
            manager,
            UserQuotas::Table,
            double_null(UserQuotas::MaxMonthlyCostUsd),
        )
        .await?;
        add(
            manager,
            UserQuotas::Table,
            double_null(UserQuotas::AskAboveUsd),
        )
        .await?;
        add(
            manager,
            Approvals::Table,
            string_len(Approvals::Kind, 16).default("tool_use").take(),
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(TaskDailyCosts::Table)
                    .col(uuid(TaskDailyCosts::TaskId))
                    .col(string(TaskDailyCosts::Day))
                    .col(double(TaskDailyCosts::CostUsd))
                    .primary_key(
                        Index::create()
                            .col(TaskDailyCosts::TaskId)
                            .col(TaskDailyCosts::Day),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TaskDailyCosts::Table, TaskDailyCosts::TaskId)
                            .to(Tasks::Table, Tasks::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TaskDailyCosts::Table).to_owned())
            .await?;
        drop(manager, Approvals::Table, Approvals::Kind).await?;
        drop(manager, UserQuotas::Table, UserQuotas::AskAboveUsd).await?;
        drop(manager, UserQuotas::Table, UserQuotas::MaxMonthlyCostUsd).await
    }
}
