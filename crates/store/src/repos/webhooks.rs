use async_trait::async_trait;
use overseer_domain::TaskId;
use overseer_ports::RepoError;
use overseer_ports::repositories::WebhookRepository;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use time::OffsetDateTime;

use crate::convert::{unavailable, write_err};
use crate::entities::{task_webhooks, webhook_receipts};

#[derive(Debug)]
pub(crate) struct SqlWebhooks(pub(crate) DatabaseConnection);

#[async_trait]
impl WebhookRepository for SqlWebhooks {
    async fn secret(&self, task: TaskId) -> Result<Option<String>, RepoError> {
        Ok(task_webhooks::Entity::find_by_id(task.as_uuid())
            .one(&self.0)
            .await
            .map_err(unavailable)?
            .map(|row| row.secret))
    }

    async fn set_secret(
        &self,
        task: TaskId,
        secret: &str,
        now: OffsetDateTime,
    ) -> Result<(), RepoError> {
        let row = task_webhooks::ActiveModel {
            task_id: Set(task.as_uuid()),
            secret: Set(secret.to_owned()),
            updated_at: Set(now),
        };
        task_webhooks::Entity::insert(row)
            .on_conflict(
                OnConflict::column(task_webhooks::Column::TaskId)
                    .update_columns([
                        task_webhooks::Column::Secret,
                        task_webhooks::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.0)
            .await
            .map_err(write_err("webhook", "task"))?;
        Ok(())
    }

    async fn record_receipt(
        &self,
        task: TaskId,
        signature: &str,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        let row = webhook_receipts::ActiveModel {
            task_id: Set(task.as_uuid()),
            signature: Set(signature.to_owned()),
            received_at: Set(at),
        };
        // The primary key decides a race: the loser inserts nothing.
        let inserted = webhook_receipts::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    webhook_receipts::Column::TaskId,
                    webhook_receipts::Column::Signature,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&self.0)
            .await
            .map_err(unavailable)?;
        Ok(inserted == 1)
    }

    async fn prune_receipts(&self, before: OffsetDateTime) -> Result<u64, RepoError> {
        Ok(webhook_receipts::Entity::delete_many()
            .filter(webhook_receipts::Column::ReceivedAt.lt(before))
            .exec(&self.0)
            .await
            .map_err(unavailable)?
            .rows_affected)
    }
}
