//! Per-user quotas and budgets: a user over a limit gets [`ServiceError::QuotaExceeded`]
//! naming it, and a starting agent gets `--max-budget-usd` no higher than what is left of the
//! tightest budget (the [`Allowance`]): the user's day and month, the task's month.
//!
//! Active runs are counted when a run is submitted; two submissions racing at the limit may
//! both pass (the limit is a guard against floods, not an exact ledger). A day's or month's
//! cost is the sum of the costs of turns that ended then (UTC), per user and per task.

use overseer_domain::AuditAction;
use overseer_domain::{ExecutionStatus, Quota, QuotaLimit, TaskId, UsdBudget, UserId};
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
    /// Spent this month (UTC).
    pub cost_this_month_usd: f64,
}

/// The task a run belongs to: its runs' cost is kept per task, against its monthly budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TaskSpend {
    pub task: TaskId,
    /// The task's `monthly_budget_usd`, as the run was queued with it.
    pub monthly_budget: Option<UsdBudget>,
}

impl TaskSpend {
    /// The runs of `task` with `options`.
    #[must_use]
    pub fn of(task: TaskId, options: &overseer_domain::AgentOptions) -> Self {
        Self {
            task,
            monthly_budget: options.monthly_budget_usd,
        }
    }
}

/// What a session may spend now.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Allowance {
    /// What is left of the tightest hard budget, and which budget that is.
    pub hard: Option<(f64, QuotaLimit)>,
    /// The owner's soft threshold per session (`ask_above_usd`).
    pub ask_above: Option<f64>,
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

    /// The first day of this month and today (UTC).
    fn this_month(&self) -> (Date, Date) {
        let today = self.today();
        (today.replace_day(1).unwrap_or(today), today)
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
        let (first, today) = self.this_month();
        Ok(QuotaStatus {
            own,
            effective: own.or(self.defaults),
            active_runs: self.active_runs(user).await?,
            cost_today_usd: self.deps.repos.quotas.cost_on(user, today).await?,
            cost_this_month_usd: self
                .deps
                .repos
                .quotas
                .cost_between(user, first, today)
                .await?,
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
                "max_monthly_cost_usd": quota.max_monthly_cost_usd.map(UsdBudget::value),
                "ask_above_usd": quota.ask_above_usd.map(UsdBudget::value),
            }),
        };
        self.audit.record(record, Some(ctx)).await?;
        self.status_of(user).await
    }

    /// Whether `user` may submit one more run (of `task`).
    ///
    /// # Errors
    /// [`ServiceError::QuotaExceeded`] naming the limit reached.
    pub async fn admit_run(
        &self,
        user: UserId,
        task: Option<TaskSpend>,
    ) -> Result<(), ServiceError> {
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
        self.allowance_under(user, limits, task).await.map(drop)
    }

    /// What `user`'s session (a run of `task`, if it is one) may spend now, refusing when a
    /// budget is spent.
    ///
    /// # Errors
    /// [`ServiceError::QuotaExceeded`] naming the budget that is spent.
    pub async fn allowance(
        &self,
        user: UserId,
        task: Option<TaskSpend>,
    ) -> Result<Allowance, ServiceError> {
        let limits = self.limits_of(user).await?;
        self.allowance_under(user, limits, task).await
    }

    async fn limits_of(&self, user: UserId) -> Result<Quota, ServiceError> {
        Ok(self.deps.repos.quotas.get(user).await?.or(self.defaults))
    }

    /// The allowance under `limits`; only a budget that is set costs a lookup.
    async fn allowance_under(
        &self,
        user: UserId,
        limits: Quota,
        task: Option<TaskSpend>,
    ) -> Result<Allowance, ServiceError> {
        let (first, today) = self.this_month();
        let quotas = &self.deps.repos.quotas;
        let mut hard: Option<(f64, QuotaLimit)> = None;
        let mut consider = |limit: QuotaLimit, max: UsdBudget, spent: f64, period: &str| {
            let left = max.value() - spent;
            if left <= 0.0 {
                return Err(ServiceError::QuotaExceeded {
                    limit,
                    detail: format!(
                        "${spent:.4} spent {period}; the limit is ${:.4}",
                        max.value()
                    ),
                });
            }
            if hard.is_none_or(|(tightest, _)| left < tightest) {
                hard = Some((left, limit));
            }
            Ok(())
        };
        if let Some(max) = limits.max_daily_cost_usd {
            let spent = quotas.cost_on(user, today).await?;
            consider(QuotaLimit::MaxDailyCostUsd, max, spent, "today")?;
        }
        if let Some(max) = limits.max_monthly_cost_usd {
            let spent = quotas.cost_between(user, first, today).await?;
            consider(QuotaLimit::MaxMonthlyCostUsd, max, spent, "this month")?;
        }
        if let Some(TaskSpend {
            task,
            monthly_budget: Some(max),
        }) = task
        {
            let spent = quotas.task_cost_between(task, first, today).await?;
            consider(
                QuotaLimit::TaskMonthlyBudgetUsd,
                max,
                spent,
                "by the task's runs this month",
            )?;
        }
        Ok(Allowance {
            hard,
            ask_above: limits.ask_above_usd.map(UsdBudget::value),
        })
    }

    /// Adds a turn's cost to the user's day, and to the task's if it was a run of one.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn record_cost(
        &self,
        user: UserId,
        task: Option<TaskId>,
        usd: f64,
    ) -> Result<(), ServiceError> {
        if usd > 0.0 {
            let today = self.today();
            self.deps.repos.quotas.add_cost(user, today, usd).await?;
            if let Some(task) = task {
                self.deps
                    .repos
                    .quotas
                    .add_task_cost(task, today, usd)
                    .await?;
            }
        }
        Ok(())
    }
}
