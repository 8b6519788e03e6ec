//! Per-user quotas (unset limits fall back to the service defaults) and the cost each user's
//! agents ran up per UTC day.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    double, double_null, integer_null, string, timestamp_with_time_zone, uuid,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserQuotas {
    Table,
    UserId,
    MaxActiveRuns,
    MaxDailyCostUsd,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DailyCosts {
    Table,
    UserId,
    /// `YYYY-MM-DD`, UTC.
    Day,
    CostUsd,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserQuotas::Table)
                    .col(uuid(UserQuotas::UserId).primary_key())
                    .col(integer_null(UserQuotas::MaxActiveRuns))
                    .col(double_null(UserQuotas::MaxDailyCostUsd))
                    .col(timestamp_with_time_zone(UserQuotas::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserQuotas::Table, UserQuotas::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DailyCosts::Table)
                    .col(uuid(DailyCosts::UserId))
                    .col(string(DailyCosts::Day))
                    .col(double(DailyCosts::CostUsd))
                    .primary_key(Index::create().col(DailyCosts::UserId).col(DailyCosts::Day))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DailyCosts::Table, DailyCosts::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [UserQuotas::Table.into_iden(), DailyCosts::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
