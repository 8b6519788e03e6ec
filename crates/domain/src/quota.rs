//! Per-user quotas: how many runs a user may have active, how much their agents may spend per
//! UTC day and per UTC month (hard limits: refused, then stopped), and how much one session may
//! spend before it stops and asks its owner whether to go on (a soft threshold). An unset limit
//! falls back to the service default.

use crate::{UsdBudget, ValidationError};

/// A user's own limits; `None` leaves the service default in force.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Quota {
    /// Executions `pending` or `running` at once.
    pub max_active_runs: Option<u32>,
    /// Agent cost per UTC day, in US dollars.
    pub max_daily_cost_usd: Option<UsdBudget>,
    /// Agent cost per UTC month, in US dollars.
    pub max_monthly_cost_usd: Option<UsdBudget>,
    /// A session (one task run, or an interactive session) that has cost this much pauses on
    /// an approval "continue past $X?": allowed, it goes on up to the hard limits; denied or
    /// unanswered, it stops with the reason.
    pub ask_above_usd: Option<UsdBudget>,
}

impl Quota {
    /// The most runs a quota may allow at once: far beyond any real limit, and within what
    /// every store keeps.
    pub const MAX_ACTIVE_RUNS: u32 = 1_000_000;

    /// # Errors
    /// A [`ValidationError`] on `max_active_runs` above [`Quota::MAX_ACTIVE_RUNS`].
    pub fn check(&self) -> Result<(), ValidationError> {
        match self.max_active_runs {
            Some(runs) if runs > Self::MAX_ACTIVE_RUNS => Err(ValidationError::new(
                "max_active_runs",
                format!("must be at most {}", Self::MAX_ACTIVE_RUNS),
            )),
            _ => Ok(()),
        }
    }

    /// This quota's limits, each falling back to `defaults`'.
    #[must_use]
    pub fn or(self, defaults: Quota) -> Quota {
        Quota {
            max_active_runs: self.max_active_runs.or(defaults.max_active_runs),
            max_daily_cost_usd: self.max_daily_cost_usd.or(defaults.max_daily_cost_usd),
            max_monthly_cost_usd: self.max_monthly_cost_usd.or(defaults.max_monthly_cost_usd),
            ask_above_usd: self.ask_above_usd.or(defaults.ask_above_usd),
        }
    }
}

/// A quota limit, named as in errors and the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaLimit {
    MaxActiveRuns,
    MaxDailyCostUsd,
    MaxMonthlyCostUsd,
    /// A task's `monthly_budget_usd`.
    TaskMonthlyBudgetUsd,
    /// A run's own `max_budget_usd`.
    RunBudgetUsd,
    /// Interactive sessions not yet ended, per user.
    MaxOpenSessions,
}

impl QuotaLimit {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxActiveRuns => "max_active_runs",
            Self::MaxDailyCostUsd => "max_daily_cost_usd",
            Self::MaxMonthlyCostUsd => "max_monthly_cost_usd",
            Self::TaskMonthlyBudgetUsd => "monthly_budget_usd",
            Self::RunBudgetUsd => "max_budget_usd",
            Self::MaxOpenSessions => "max_open_sessions",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_limits_win_and_unset_ones_fall_back() {
        let usd = |v| Some(UsdBudget::new(v).unwrap());
        let defaults = Quota {
            max_active_runs: Some(10),
            max_daily_cost_usd: usd(5.0),
            max_monthly_cost_usd: usd(50.0),
            ask_above_usd: None,
        };
        let own = Quota {
            max_active_runs: Some(2),
            ask_above_usd: usd(1.0),
            ..Quota::default()
        };
        assert_eq!(
            own.or(defaults),
            Quota {
                max_active_runs: Some(2),
                max_daily_cost_usd: usd(5.0),
                max_monthly_cost_usd: usd(50.0),
                ask_above_usd: usd(1.0),
            }
        );
        assert_eq!(Quota::default().or(Quota::default()), Quota::default());
    }
}
