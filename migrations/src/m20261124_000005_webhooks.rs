//! Webhook triggers: each task's signing secret (HMAC needs the key itself, so it is stored
//! as issued and never shown again), and the signatures already accepted, so a replayed
//! request is refused.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, timestamp_with_time_zone, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TaskWebhooks {
    Table,
    TaskId,
    Secret,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookReceipts {
    Table,
    TaskId,
    Signature,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TaskWebhooks::Table)
                    .col(uuid(TaskWebhooks::TaskId).primary_key())
                    .col(string(TaskWebhooks::Secret))
                    .col(timestamp_with_time_zone(TaskWebhooks::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TaskWebhooks::Table, TaskWebhooks::TaskId)
                            .to(Tasks::Table, Tasks::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookReceipts::Table)
                    .col(uuid(WebhookReceipts::TaskId))
                    .col(string(WebhookReceipts::Signature))
                    .col(timestamp_with_time_zone(WebhookReceipts::ReceivedAt))
                    .primary_key(
                        Index::create()
                            .col(WebhookReceipts::TaskId)
                            .col(WebhookReceipts::Signature),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_receipts_received_at")
                    .table(WebhookReceipts::Table)
                    .col(WebhookReceipts::ReceivedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookReceipts::Table.into_iden(),
            TaskWebhooks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
