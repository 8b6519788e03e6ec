use async_trait::async_trait;
use overseer_domain::{Quota, TaskId, UsdBudget, UserId};
use overseer_ports::RepoError;
use overseer_ports::repositories::QuotaRepository;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};
use time::{Date, OffsetDateTime};

use crate::convert::{corrupt, unavailable, write_err};
use crate::entities::{daily_costs, task_daily_costs, user_quotas};

const ENTITY: &str = "quota";

#[derive(Debug)]
pub(crate) struct SqlQuotas(pub(crate) DatabaseConnection);

/// Days are stored as ISO `YYYY-MM-DD` text: portable, and ordered like the dates.
fn day_key(day: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

fn to_domain(row: user_quotas::Model) -> Result<Quota, RepoError> {
    let max_active_runs = row
        .max_active_runs
        .map(u32::try_from)
        .transpose()
        .map_err(|e| corrupt(ENTITY)(&e))?;
    let usd = |value: Option<f64>| {
        value
            .map(UsdBudget::new)
            .transpose()
            .map_err(|e| corrupt(ENTITY)(&e))
    };
    Ok(Quota {
        max_active_runs,
        max_daily_cost_usd: usd(row.max_daily_cost_usd)?,
        max_monthly_cost_usd: usd(row.max_monthly_cost_usd)?,
        ask_above_usd: usd(row.ask_above_usd)?,
    })
}

#[async_trait]
impl QuotaRepository for SqlQuotas {
    async fn get(&self, user: UserId) -> Result<Quota, RepoError> {
        user_quotas::Entity::find_by_id(user.as_uuid())
            .one(&self.0)
            .await
            .map_err(unavailable)?
            .map_or(Ok(Quota::default()), to_domain)
    }

    async fn set(&self, user: UserId, quota: Quota, now: OffsetDateTime) -> Result<(), RepoError> {
        let max_active_runs = quota
            .max_active_runs
            .map(i32::try_from)
            .transpose()
            .map_err(|e| corrupt(ENTITY)(&e))?;
        let row = user_quotas::ActiveModel {
            user_id: Set(user.as_uuid()),
            max_active_runs: Set(max_active_runs),
            max_daily_cost_usd: Set(quota.max_daily_cost_usd.map(UsdBudget::value)),
            max_monthly_cost_usd: Set(quota.max_monthly_cost_usd.map(UsdBudget::value)),
            ask_above_usd: Set(quota.ask_above_usd.map(UsdBudget::value)),
            updated_at: Set(now),
        };
        user_quotas::Entity::insert(row)
            .on_conflict(
                OnConflict::column(user_quotas::Column::UserId)
                    .update_columns([
                        user_quotas::Column::MaxActiveRuns,
                        user_quotas::Column::MaxDailyCostUsd,
                        user_quotas::Column::MaxMonthlyCostUsd,
                        user_quotas::Column::AskAboveUsd,
                        user_quotas::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.0)
            .await
            .map_err(write_err(ENTITY, "user"))?;
        Ok(())
    }

    async fn add_cost(&self, user: UserId, day: Date, usd: f64) -> Result<(), RepoError> {
        let row = daily_costs::ActiveModel {
            user_id: Set(user.as_uuid()),
            day: Set(day_key(day)),
            cost_usd: Set(usd),
        };
        // One statement: concurrent turns add up instead of overwriting each other.
        let sum = Expr::col((daily_costs::Entity, daily_costs::Column::CostUsd))
            .add(Expr::cust("excluded.cost_usd"));
        daily_costs::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([daily_costs::Column::UserId, daily_costs::Column::Day])
                    .value(daily_costs::Column::CostUsd, sum)
                    .to_owned(),
            )
            .exec_without_returning(&self.0)
            .await
            .map_err(write_err(ENTITY, "user"))?;
        Ok(())
    }

    async fn cost_on(&self, user: UserId, day: Date) -> Result<f64, RepoError> {
        Ok(
            daily_costs::Entity::find_by_id((user.as_uuid(), day_key(day)))
                .one(&self.0)
                .await
                .map_err(unavailable)?
                .map_or(0.0, |row| row.cost_usd),
        )
    }

    async fn cost_between(&self, user: UserId, first: Date, last: Date) -> Result<f64, RepoError> {
        let sum: Option<Option<f64>> = daily_costs::Entity::find()
            .select_only()
            .column_as(daily_costs::Column::CostUsd.sum(), "total")
            .filter(daily_costs::Column::UserId.eq(user.as_uuid()))
            .filter(daily_costs::Column::Day.between(day_key(first), day_key(last)))
            .into_tuple()
            .one(&self.0)
            .await
            .map_err(unavailable)?;
        Ok(sum.flatten().unwrap_or(0.0))
    }

    async fn add_task_cost(&self, task: TaskId, day: Date, usd: f64) -> Result<(), RepoError> {
        let row = task_daily_costs::ActiveModel {
            task_id: Set(task.as_uuid()),
            day: Set(day_key(day)),
            cost_usd: Set(usd),
        };
        let sum = Expr::col((task_daily_costs::Entity, task_daily_costs::Column::CostUsd))
            .add(Expr::cust("excluded.cost_usd"));
        task_daily_costs::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    task_daily_costs::Column::TaskId,
                    task_daily_costs::Column::Day,
                ])
                .value(task_daily_costs::Column::CostUsd, sum)
                .to_owned(),
            )
            .exec_without_returning(&self.0)
            .await
            .map_err(write_err(ENTITY, "task"))?;
        Ok(())
    }

    async fn task_cost_between(
        &self,
        task: TaskId,
        first: Date,
        last: Date,
    ) -> Result<f64, RepoError> {
        let sum: Option<Option<f64>> = task_daily_costs::Entity::find()
            .select_only()
            .column_as(task_daily_costs::Column::CostUsd.sum(), "total")
            .filter(task_daily_costs::Column::TaskId.eq(task.as_uuid()))
            .filter(task_daily_costs::Column::Day.between(day_key(first), day_key(last)))
            .into_tuple()
            .one(&self.0)
            .await
            .map_err(unavailable)?;
        Ok(sum.flatten().unwrap_or(0.0))
    }
}
