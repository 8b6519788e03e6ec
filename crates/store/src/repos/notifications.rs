use async_trait::async_trait;
use overseer_domain::{
    Delivery, DeliveryId, HttpUrl, NotificationEvent, NotificationTarget, NotificationTargetId,
    UserId,
};
use overseer_ports::repositories::NotificationRepository;
use overseer_ports::{Page, PageRequest, RepoError, Scope};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Statement,
};
use time::OffsetDateTime;

use super::scoped;
use crate::convert::{corrupt, fetch_all, fetch_page, parse, unavailable, write_err};
use crate::entities::notification_deliveries as deliveries;
use crate::entities::notification_targets as targets;

const TARGET: &str = "notification target";
const DELIVERY: &str = "delivery";

#[derive(Debug)]
pub(crate) struct SqlNotifications(pub(crate) DatabaseConnection);

fn target_to_domain(row: targets::Model) -> Result<NotificationTarget, RepoError> {
    Ok(NotificationTarget {
        id: NotificationTargetId::from_uuid(row.id),
        owner: row.owner_id.map(UserId::from_uuid),
        created_by: UserId::from_uuid(row.created_by),
        url: HttpUrl::new(row.url).map_err(|e| corrupt(TARGET)(&e))?,
        events: serde_json::from_value(row.events).map_err(|e| corrupt(TARGET)(&e))?,
        format: parse(TARGET, &row.format)?,
        secret: row.secret,
        created_at: row.created_at,
    })
}

fn delivery_to_domain(row: deliveries::Model) -> Result<Delivery, RepoError> {
    Ok(Delivery {
        id: DeliveryId::from_uuid(row.id),
        target_id: NotificationTargetId::from_uuid(row.target_id),
        event: parse(DELIVERY, &row.event)?,
        body: row.body,
        status: parse(DELIVERY, &row.status)?,
        attempts: u32::try_from(row.attempts).map_err(|e| corrupt(DELIVERY)(&e))?,
        next_attempt_at: row.next_attempt_at,
        last_error: row.last_error,
        created_at: row.created_at,
        delivered_at: row.delivered_at,
    })
}

fn delivery_row(delivery: &Delivery) -> deliveries::Model {
    deliveries::Model {
        id: delivery.id.as_uuid(),
        target_id: delivery.target_id.as_uuid(),
        event: delivery.event.as_str().to_owned(),
        body: delivery.body.clone(),
        status: delivery.status.as_str().to_owned(),
        attempts: i32::try_from(delivery.attempts).unwrap_or(i32::MAX),
        next_attempt_at: delivery.next_attempt_at,
        lease_until: None,
        last_error: delivery.last_error.clone(),
        created_at: delivery.created_at,
        delivered_at: delivery.delivered_at,
    }
}

/// Writes `deliveries` on `db` (a connection or an open transaction).
pub(crate) async fn insert_deliveries(
    db: &impl ConnectionTrait,
    deliveries: &[Delivery],
) -> Result<(), RepoError> {
    if deliveries.is_empty() {
        return Ok(());
    }
    deliveries::Entity::insert_many(
        deliveries
            .iter()
            .map(|d| delivery_row(d).into_active_model()),
    )
    .exec_without_returning(db)
    .await
    .map_err(write_err(DELIVERY, TARGET))?;
    Ok(())
}

/// The claim, one statement: on Postgres the rows are taken `FOR UPDATE SKIP LOCKED`, so two
/// nodes claiming at once take different rows; SQLite has one writer.
fn claim_sql(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "UPDATE notification_deliveries SET lease_until = $2 WHERE id IN ( \
                 SELECT id FROM notification_deliveries \
                 WHERE status = 'pending' AND next_attempt_at <= $1 \
                   AND (lease_until IS NULL OR lease_until <= $1) \
                 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING *"
        }
        _ => {
            "UPDATE notification_deliveries SET lease_until = ?2 WHERE id IN ( \
                 SELECT id FROM notification_deliveries \
                 WHERE status = 'pending' AND next_attempt_at <= ?1 \
                   AND (lease_until IS NULL OR lease_until <= ?1) \
                 ORDER BY next_attempt_at, id LIMIT ?3) \
             RETURNING *"
        }
    }
}

#[async_trait]
impl NotificationRepository for SqlNotifications {
    async fn insert_target(&self, target: &NotificationTarget) -> Result<(), RepoError> {
        let row = targets::Model {
            id: target.id.as_uuid(),
            owner_id: target.owner.map(|u| u.as_uuid()),
            created_by: target.created_by.as_uuid(),
            url: target.url.as_str().to_owned(),
            events: serde_json::to_value(&target.events).map_err(|e| corrupt(TARGET)(&e))?,
            format: target.format.as_str().to_owned(),
            secret: target.secret.clone(),
            created_at: target.created_at,
        };
        targets::Entity::insert(row.into_active_model())
            .exec_without_returning(&self.0)
            .await
            .map_err(write_err(TARGET, "user"))?;
        Ok(())
    }

    async fn get_target(
        &self,
        id: NotificationTargetId,
        scope: Scope,
    ) -> Result<NotificationTarget, RepoError> {
        scoped(
            targets::Entity::find_by_id(id.as_uuid()),
            targets::Column::CreatedBy,
            scope,
        )
        .one(&self.0)
        .await
        .map_err(unavailable)?
        .map(target_to_domain)
        .transpose()?
        .ok_or(RepoError::NotFound { entity: TARGET })
    }

    async fn list_targets(
        &self,
        scope: Scope,
        page: PageRequest,
    ) -> Result<Page<NotificationTarget>, RepoError> {
        let select = scoped(targets::Entity::find(), targets::Column::CreatedBy, scope)
            .order_by_desc(targets::Column::CreatedAt)
            .order_by_desc(targets::Column::Id);
        fetch_page(&self.0, select, page, target_to_domain).await
    }

    async fn delete_target(&self, id: NotificationTargetId, scope: Scope) -> Result<(), RepoError> {
        self.get_target(id, scope).await?;
        // Its deliveries go with it: the foreign key cascades.
        targets::Entity::delete_by_id(id.as_uuid())
            .exec(&self.0)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn targets_hearing(
        &self,
        event: NotificationEvent,
        user: UserId,
    ) -> Result<Vec<NotificationTarget>, RepoError> {
        // Few targets per user: read the user's and the global ones, keep those that list it.
        let select = targets::Entity::find()
            .filter(
                Condition::any()
                    .add(targets::Column::OwnerId.eq(user.as_uuid()))
                    .add(targets::Column::OwnerId.is_null()),
            )
            .order_by_asc(targets::Column::CreatedAt)
            .order_by_asc(targets::Column::Id);
        let all = fetch_all(&self.0, select, target_to_domain).await?;
        Ok(all.into_iter().filter(|t| t.hears(event, user)).collect())
    }

    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), RepoError> {
        insert_deliveries(&self.0, deliveries).await
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Delivery>, RepoError> {
        let backend = self.0.get_database_backend();
        let statement = Statement::from_sql_and_values(
            backend,
            claim_sql(backend),
            [now.into(), lease_until.into(), i64::from(limit).into()],
        );
        // The claimed rows come back from the UPDATE itself: no second read per poll.
        let rows = deliveries::Entity::find()
            .from_raw_sql(statement)
            .all(&self.0)
            .await
            .map_err(unavailable)?;
        let mut claimed = rows
            .into_iter()
            .map(delivery_to_domain)
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING keeps no order: oldest due first, as the claim chose them.
        claimed.sort_by_key(|d| (d.next_attempt_at, d.id));
        Ok(claimed)
    }

    async fn record(&self, delivery: &Delivery) -> Result<(), RepoError> {
        let row = delivery_row(delivery);
        let update = deliveries::ActiveModel {
            id: Set(row.id),
            status: Set(row.status),
            attempts: Set(row.attempts),
            next_attempt_at: Set(row.next_attempt_at),
            lease_until: Set(None),
            last_error: Set(row.last_error),
            delivered_at: Set(row.delivered_at),
            ..Default::default()
        };
        let done = deliveries::Entity::update_many()
            .set(update)
            .filter(deliveries::Column::Id.eq(delivery.id.as_uuid()))
            .exec(&self.0)
            .await
            .map_err(unavailable)?;
        if done.rows_affected == 0 {
            return Err(RepoError::NotFound { entity: DELIVERY });
        }
        Ok(())
    }

    async fn list_deliveries(
        &self,
        target: NotificationTargetId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, RepoError> {
        let select = deliveries::Entity::find()
            .filter(deliveries::Column::TargetId.eq(target.as_uuid()))
            .order_by_desc(deliveries::Column::CreatedAt)
            .order_by_desc(deliveries::Column::Id);
        fetch_page(&self.0, select, page, delivery_to_domain).await
    }
}
