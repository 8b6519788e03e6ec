//! Outbound notifications: targets (a user's own, or global) and the outbox of their
//! deliveries, each kept until delivered or given up, leased by the node sending it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    integer, json_binary, pk_uuid, string, string_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum NotificationTargets {
    Table,
    Id,
    OwnerId,
    CreatedBy,
    Url,
    Events,
    Format,
    Secret,
    CreatedAt,
}

#[derive(DeriveIden)]
enum NotificationDeliveries {
    Table,
    Id,
    TargetId,
    Event,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    CreatedAt,
    DeliveredAt,
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
                    .table(NotificationTargets::Table)
                    .col(pk_uuid(NotificationTargets::Id))
                    .col(uuid_null(NotificationTargets::OwnerId))
                    .col(uuid(NotificationTargets::CreatedBy))
                    .col(string(NotificationTargets::Url))
                    .col(json_binary(NotificationTargets::Events))
                    .col(string(NotificationTargets::Format))
                    .col(string(NotificationTargets::Secret))
                    .col(timestamp_with_time_zone(NotificationTargets::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(NotificationTargets::Table, NotificationTargets::OwnerId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(NotificationTargets::Table, NotificationTargets::CreatedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationDeliveries::Table)
                    .col(pk_uuid(NotificationDeliveries::Id))
                    .col(uuid(NotificationDeliveries::TargetId))
                    .col(string(NotificationDeliveries::Event))
                    .col(json_binary(NotificationDeliveries::Body))
                    .col(string(NotificationDeliveries::Status))
                    .col(integer(NotificationDeliveries::Attempts))
                    .col(timestamp_with_time_zone(
                        NotificationDeliveries::NextAttemptAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        NotificationDeliveries::LeaseUntil,
                    ))
                    .col(string_null(NotificationDeliveries::LastError))
                    .col(timestamp_with_time_zone(NotificationDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        NotificationDeliveries::DeliveredAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                NotificationDeliveries::Table,
                                NotificationDeliveries::TargetId,
                            )
                            .to(NotificationTargets::Table, NotificationTargets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_due")
                    .table(NotificationDeliveries::Table)
                    .col(NotificationDeliveries::Status)
                    .col(NotificationDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_target")
                    .table(NotificationDeliveries::Table)
                    .col(NotificationDeliveries::TargetId)
                    .col(NotificationDeliveries::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(NotificationDeliveries::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(NotificationTargets::Table).to_owned())
            .await
    }
}
