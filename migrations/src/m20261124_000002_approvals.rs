//! Approvals of tool uses that a rule says to ask about.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    json_binary, pk_uuid, string, string_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Approvals {
    Table,
    Id,
    SessionId,
    UserId,
    ToolUseId,
    ToolName,
    ToolInput,
    Status,
    DecidedBy,
    DecidedAt,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
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
                    .table(Approvals::Table)
                    .col(pk_uuid(Approvals::Id))
                    .col(uuid(Approvals::SessionId))
                    .col(uuid(Approvals::UserId))
                    .col(string_null(Approvals::ToolUseId))
                    .col(string(Approvals::ToolName))
                    .col(json_binary(Approvals::ToolInput))
                    .col(string(Approvals::Status))
                    .col(uuid_null(Approvals::DecidedBy))
                    .col(timestamp_with_time_zone_null(Approvals::DecidedAt))
                    .col(timestamp_with_time_zone(Approvals::ExpiresAt))
                    .col(timestamp_with_time_zone(Approvals::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Approvals::Table, Approvals::SessionId)
                            .to(Sessions::Table, Sessions::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Approvals::Table, Approvals::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_approvals_session_status")
                    .table(Approvals::Table)
                    .col(Approvals::SessionId)
                    .col(Approvals::Status)
                    .col(Approvals::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_approvals_status_expiry")
                    .table(Approvals::Table)
                    .col(Approvals::Status)
                    .col(Approvals::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Approvals::Table).to_owned())
            .await
    }
}
