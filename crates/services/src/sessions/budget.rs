//! Budgets in a turn. An agent starts with `--max-budget-usd` at the tightest of: the run's
//! own `max_budget_usd`, what is left of its owner's hard budgets (day, month) and its task's
//! month, and, until the owner has allowed going past it, what is left of the owner's soft
//! threshold for this session (`ask_above_usd`). The CLI stops between model calls when it
//! reaches that budget. Stopped by the soft threshold, the session asks its owner "continue
//! past $X?" (an approval, notified like any other): allowed, a new agent resumes the
//! conversation with the hard budgets left; denied or unanswered, the turn ends with the
//! reason. Stopped by a hard budget, the turn ends with the budget named.
//!
//! Going past a threshold is allowed for the session's life on this node: after a restart the
//! session asks again when it next reaches the threshold.

use overseer_domain::{AuditAction, QuotaLimit, Session, SessionId, UsdBudget};
use overseer_ports::Scope;
use serde_json::json;

use super::turn::UserMessage;
use super::{SessionService, TurnOutcome};
use crate::approvals::ApprovalOutcome;
use crate::audit::AuditRecord;
use crate::error::ServiceError;
use crate::quotas::{Allowance, TaskSpend};
use crate::sessions::processor::CostCursor;

/// What a session's next agent is told after its owner allowed it past the threshold.
pub(super) const GO_ON: &str = "Continue where you stopped.";

/// What a session's turns keep between them on this node.
#[derive(Debug, Default)]
pub(crate) struct TurnState {
    pub(super) cost: CostCursor,
    /// What the live agent's budget was, and what set it, when it started.
    pub(super) cap: Option<Cap>,
    /// The soft threshold the owner allowed this session to go past.
    pub(super) allowed_past: Option<f64>,
}

/// What set an agent's budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum CapBy {
    /// A hard budget: the run's own, the owner's or the task's.
    Hard(QuotaLimit),
    /// The owner's soft threshold, in US dollars.
    Soft(f64),
}

/// An agent's budget, in US dollars, and what set it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Cap {
    pub(super) usd: f64,
    pub(super) by: CapBy,
}

/// What the next step of a turn is, budget-wise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Plan {
    /// Run the agent under this budget (none: no budget).
    Run(Option<Cap>),
    /// The session is already at the soft threshold: ask before the agent spends more.
    AskFirst(f64),
}

/// The plan for a session that has spent `spent` under `own` (the run's budget) and
/// `allowance`, having been allowed past `allowed_past`.
pub(super) fn plan(
    own: Option<UsdBudget>,
    allowance: &Allowance,
    spent: f64,
    allowed_past: Option<f64>,
) -> Plan {
    let soft = allowance
        .ask_above
        .filter(|threshold| allowed_past.is_none_or(|allowed| allowed < *threshold));
    if let Some(threshold) = soft
        && spent >= threshold
    {
        return Plan::AskFirst(threshold);
    }
    let candidates = [
        own.map(|usd| Cap {
            usd: usd.value(),
            by: CapBy::Hard(QuotaLimit::RunBudgetUsd),
        }),
        allowance.hard.map(|(usd, limit)| Cap {
            usd,
            by: CapBy::Hard(limit),
        }),
        soft.map(|threshold| Cap {
            usd: threshold - spent,
            by: CapBy::Soft(threshold),
        }),
    ];
    Plan::Run(
        candidates
            .into_iter()
            .flatten()
            .min_by(|a, b| a.usd.total_cmp(&b.usd)),
    )
}

/// What follows a stop at a budget.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Next {
    /// The owner allowed going on: resume with [`GO_ON`].
    GoOn,
    /// The turn ends, for this reason.
    Stop(String),
}

impl SessionService {
    /// The turn: the agent runs under its budget; stopped at one, the session asks its owner
    /// or ends the turn (see `budget`), and an allowed session goes on with a new agent.
    pub(super) async fn traced_turn(
        &self,
        mut session: Session,
        text: &str,
        user_message: UserMessage,
        state: &mut TurnState,
        mut allowance: Allowance,
        task: Option<TaskSpend>,
    ) -> Result<TurnOutcome, ServiceError> {
        let (mut text, mut user_message) = (text.to_owned(), user_message);
        // As read when the turn began; read again after a stop.
        let mut spent = session.usage.total_cost_usd;
        loop {
            let (last, by) = match plan(
                session.options.max_budget_usd,
                &allowance,
                spent,
                state.allowed_past,
            ) {
                Plan::AskFirst(threshold) => (None, CapBy::Soft(threshold)),
                Plan::Run(cap) => {
                    let outcome = self
                        .pass(&mut session, &text, user_message, state, cap, task)
                        .await?;
                    if !outcome.stopped_at_budget {
                        return Ok(outcome);
                    }
                    let by = state
                        .cap
                        .map_or(CapBy::Hard(QuotaLimit::RunBudgetUsd), |cap| cap.by);
                    (Some(outcome), by)
                }
            };
            match self.budget_stop(&session, state, by).await? {
                Next::Stop(reason) => return Ok(stopped(reason, last.as_ref())),
                Next::GoOn => {
                    allowance = match self.quotas.allowance(session.user_id, task).await {
                        Ok(allowance) => allowance,
                        Err(ServiceError::QuotaExceeded { limit, .. }) => {
                            let spent = self.spent(session.id).await?;
                            let reason = self.hard_stop(&session, limit, spent).await?;
                            return Ok(stopped(reason, last.as_ref()));
                        }
                        Err(err) => return Err(err),
                    };
                    spent = self.spent(session.id).await?;
                    text = GO_ON.to_owned();
                    user_message = UserMessage::ToStore;
                }
            }
        }
    }

    /// What `session` has cost so far, as stored.
    pub(super) async fn spent(&self, session: SessionId) -> Result<f64, ServiceError> {
        Ok(self
            .deps
            .repos
            .sessions
            .get(session, Scope::Admin)
            .await?
            .usage
            .total_cost_usd)
    }

    /// After the agent stopped at the budget `by` set (its process is closed: it cannot spend
    /// more): asks the owner at a soft threshold; at a hard budget, says so.
    pub(super) async fn budget_stop(
        &self,
        session: &Session,
        state: &mut TurnState,
        by: CapBy,
    ) -> Result<Next, ServiceError> {
        self.pool.release(session.id).await;
        state.cap = None;
        let spent = self.spent(session.id).await?;
        let threshold = match by {
            CapBy::Soft(threshold) => threshold,
            CapBy::Hard(limit) => {
                return Ok(Next::Stop(self.hard_stop(session, limit, spent).await?));
            }
        };
        let owner = session.user_id;
        let asked = format!(
            "the session reached its budget threshold of ${threshold:.2} (${spent:.4} spent)"
        );
        Ok(
            match self
                .approvals
                .ask_budget(session.id, owner, threshold, spent)
                .await
            {
                ApprovalOutcome::Allowed { .. } => {
                    state.allowed_past = Some(threshold);
                    Next::GoOn
                }
                ApprovalOutcome::Denied { .. } => {
                    Next::Stop(format!("{asked}; going on was denied"))
                }
                ApprovalOutcome::Expired => {
                    Next::Stop(format!("{asked}; nobody allowed going on in time"))
                }
                ApprovalOutcome::Failed(why) => Next::Stop(format!("{asked}; {why}")),
            },
        )
    }

    /// Audits and notifies a stop at the hard budget `limit`; the reason the turn ends with.
    pub(super) async fn hard_stop(
        &self,
        session: &Session,
        limit: QuotaLimit,
        spent: f64,
    ) -> Result<String, ServiceError> {
        let limit = limit.as_str();
        let details = json!({"action": "stopped", "limit": limit, "spent_usd": spent});
        self.approvals
            .notify_budget_stop(session.id, session.user_id, details.clone())
            .await;
        self.audit
            .record(
                AuditRecord {
                    actor: Some(session.user_id),
                    action: AuditAction::BudgetStopped,
                    resource_type: "session",
                    resource_id: Some(session.id.to_string()),
                    details,
                },
                None,
            )
            .await?;
        Ok(format!(
            "stopped: the {limit} budget is reached (the session has cost ${spent:.4})"
        ))
    }
}

/// The turn's outcome when a budget ended it.
pub(super) fn stopped(reason: String, last: Option<&TurnOutcome>) -> TurnOutcome {
    TurnOutcome {
        result_message_id: last.and_then(|outcome| outcome.result_message_id),
        is_error: true,
        text: Some(reason),
        structured_output: None,
        stopped_at_budget: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(value: f64) -> Option<UsdBudget> {
        Some(UsdBudget::new(value).unwrap())
    }

    #[test]
    fn the_tightest_budget_sets_the_cap() {
        let allowance = Allowance {
            hard: Some((3.0, QuotaLimit::MaxDailyCostUsd)),
            ask_above: Some(2.0),
        };
        assert_eq!(
            plan(usd(5.0), &allowance, 0.5, None),
            Plan::Run(Some(Cap {
                usd: 1.5,
                by: CapBy::Soft(2.0)
            }))
        );
        assert_eq!(
            plan(usd(1.0), &allowance, 0.5, None),
            Plan::Run(Some(Cap {
                usd: 1.0,
                by: CapBy::Hard(QuotaLimit::RunBudgetUsd)
            }))
        );
        assert_eq!(
            plan(None, &allowance, 0.5, Some(2.0)),
            Plan::Run(Some(Cap {
                usd: 3.0,
                by: CapBy::Hard(QuotaLimit::MaxDailyCostUsd)
            })),
            "allowed past the threshold: only the hard budget is left"
        );
        assert_eq!(
            plan(None, &Allowance::default(), 9.0, None),
            Plan::Run(None)
        );
    }

    #[test]
    fn a_session_already_at_its_threshold_asks_first() {
        let allowance = Allowance {
            hard: None,
            ask_above: Some(2.0),
        };
        assert_eq!(plan(None, &allowance, 2.0, None), Plan::AskFirst(2.0));
        assert_eq!(
            plan(None, &allowance, 2.5, Some(1.0)),
            Plan::AskFirst(2.0),
            "allowed past a lower threshold only"
        );
        assert_eq!(plan(None, &allowance, 2.5, Some(2.0)), Plan::Run(None));
    }
}
