//! Per-user quotas: a user over a limit gets [`ServiceError::QuotaExceeded`] naming it, and a
//! starting agent gets `--max-budget-usd` no higher than what is left of the day's budget.
//!
//! Active runs are counted when a run is submitted; two submissions racing at the limit may
//! both pass (the limit is a guard against floods, not an exact ledger). The daily cost is the
//! sum of the costs of turns that ended that UTC day.

use overseer_domain::AuditAction;
use overseer_domain::{ExecutionStatus, Quota, QuotaLimit, UsdBudget, UserId};
use overseer_ports::repositories::ExecutionFilter;
use overseer_ports::{PageRequest, Scope};
use serde_json::json;
use time::Date;

use crate::audit::{AuditRecord, AuditService};
use crate::context::{Deps, RequestContext};
use crate::error::ServiceError;

/// A user's limits in force and what they use of them now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuotaStatus {
    /// The user's own limits (unset ones follow the defaults).
    pub own: Quota,
    /// The limits in force: own, else the service defaults.
    pub effective: Quota,
    /// Runs pending or running now.
    pub active_runs: u64,
    /// Spent today (UTC).
    pub cost_today_usd: f64,
}

impl QuotaStatus {
    /// What is left of today's budget, if there is a budget.
    #[must_use]
    pub fn remaining_usd(&self) -> Option<f64> {
        self.effective
            .max_daily_cost_usd
            .map(|max| (max.value() - self.cost_today_usd).max(0.0))
    }
}

#[derive(Clone)]
pub struct QuotaService {
    deps: Deps,
    audit: AuditService,
    defaults: Quota,
}

impl std::fmt::Debug for QuotaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaService")
            .field("defaults", &self.defaults)
            .finish_non_exhaustive()
    }
}

impl QuotaService {
    #[must_use]
    pub fn new(deps: Deps, defaults: Quota) -> Self {
        Self {
            audit: AuditService::new(deps.clone()),
            deps,
            defaults,
        }
    }

    fn today(&self) -> Date {
        self.deps.clock.now().date()
    }

    async fn active_runs(&self, user: UserId) -> Result<u64, ServiceError> {
        let mut active = 0;
        for status in [ExecutionStatus::Pending, ExecutionStatus::Running] {
            let filter = ExecutionFilter {
                task_id: None,
                status: Some(status),
            };
            active += self
                .deps
                .repos
                .executions
                .list(Scope::Owner(user), filter, PageRequest::first(1))
                .await?
                .total;
        }
        Ok(active)
    }

    /// The user's limits and usage.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn status_of(&self, user: UserId) -> Result<QuotaStatus, ServiceError> {
        let own = self.deps.repos.quotas.get(user).await?;
        Ok(QuotaStatus {
            own,
            effective: own.or(self.defaults),
            active_runs: self.active_runs(user).await?,
            cost_today_usd: self.deps.repos.quotas.cost_on(user, self.today()).await?,
        })
    }

    /// The quota status of `user`, for that user or an admin.
    ///
    /// # Errors
    /// `NotFound` for anyone else (as for a missing user).
    pub async fn status(
        &self,
        ctx: &RequestContext,
        user: UserId,
    ) -> Result<QuotaStatus, ServiceError> {
        if !ctx.is_admin && ctx.user_id != user {
            return Err(ServiceError::NotFound { entity: "user" });
        }
        self.deps.repos.users.get(user).await?;
        self.status_of(user).await
    }

    /// Sets `user`'s own limits (admins only) and audits the change.
    ///
    /// # Errors
    /// `Forbidden` for non-admins; `NotFound` for a missing user.
    pub async fn set(
        &self,
        ctx: &RequestContext,
        user: UserId,
        quota: Quota,
    ) -> Result<QuotaStatus, ServiceError> {
        if !ctx.is_admin {
            return Err(ServiceError::Forbidden("only admins set quotas"));
        }
        quota.check()?;
        self.deps
            .repos
            .quotas
            .set(user, quota, self.deps.clock.now())
            .await?;
        let record = AuditRecord {
            actor: Some(ctx.user_id),
            action: AuditAction::QuotaUpdated,
            resource_type: "user",
            resource_id: Some(user.to_string()),
            details: json!({
                "max_active_runs": quota.max_active_runs,
                "max_daily_cost_usd": quota.max_daily_cost_usd.map(UsdBudget::value),
            }),
        };
        self.audit.record(record, Some(ctx)).await?;
        self.status_of(user).await
    }

    /// Whether `user` may submit one more run.
    ///
    /// # Errors
    /// [`ServiceError::QuotaExceeded`] naming the limit reached.
    pub async fn admit_run(&self, user: UserId) -> Result<(), ServiceError> {
        let limits = self.limits_of(user).await?;
        if let Some(max) = limits.max_active_runs {
            let active = self.active_runs(user).await?;
            if active >= u64::from(max) {
                return Err(ServiceError::QuotaExceeded {
                    limit: QuotaLimit::MaxActiveRuns,
                    detail: format!("{active} runs are active; the limit is {max}"),
                });
            }
        }
        self.budget_left(user, limits).await.map(drop)
    }

    /// What is left of `user`'s budget today (`None`: no budget), refusing when nothing is.
    ///
    /// # Errors
    /// [`ServiceError::QuotaExceeded`] when the day's budget is spent.
    pub async fn remaining_budget(&self, user: UserId) -> Result<Option<f64>, ServiceError> {
        let limits = self.limits_of(user).await?;
        self.budget_left(user, limits).await
    }

    async fn limits_of(&self, user: UserId) -> Result<Quota, ServiceError> {
        Ok(self.deps.repos.quotas.get(user).await?.or(self.defaults))
    }

    /// What is left under `limits`' daily budget (`None`: no budget); only a budget costs a
    /// lookup.
    async fn budget_left(&self, user: UserId, limits: Quota) -> Result<Option<f64>, ServiceError> {
        let Some(max) = limits.max_daily_cost_usd else {
            return Ok(None);
        };
        let spent = self.deps.repos.quotas.cost_on(user, self.today()).await?;
        if spent >= max.value() {
            return Err(ServiceError::QuotaExceeded {
                limit: QuotaLimit::MaxDailyCostUsd,
                detail: format!("${spent:.4} spent today; the limit is ${:.4}", max.value()),
            });
        }
        Ok(Some(max.value() - spent))
    }

    /// Adds a turn's cost to the user's day.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn record_cost(&self, user: UserId, usd: f64) -> Result<(), ServiceError> {
        if usd > 0.0 {
            self.deps
                .repos
                .quotas
                .add_cost(user, self.today(), usd)
                .await?;
        }
        Ok(())
    }
}
