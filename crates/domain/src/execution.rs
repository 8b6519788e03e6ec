//! Task executions: one run of a task, and its state machine.

use std::collections::BTreeMap;

use serde_json::Value;
use time::OffsetDateTime;

use crate::ids::{ExecutionId, MessageId, ReportId, SessionId, TaskId, UserId};
use crate::state_machine::InvalidTransition;
use crate::string_enum::string_enum;
use crate::task::TaskSnapshot;

string_enum!(
    /// Where an execution is in its life.
    ExecutionStatus("status") {
        Pending => "pending",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
    }
);

const EXECUTION_TRANSITIONS: &[(ExecutionStatus, ExecutionStatus)] = {
    use ExecutionStatus::{Cancelled, Completed, Failed, Pending, Running};
    &[
        (Pending, Running),
        // Setting up the run failed before the agent started.
        (Pending, Failed),
        (Pending, Cancelled),
        (Running, Completed),
        (Running, Failed),
        (Running, Cancelled),
        // A worker's lease expired before its agent started: the run goes back to the queue.
        (Running, Pending),
    ]
};

impl ExecutionStatus {
    /// Whether the transition table allows `self → to`.
    #[must_use]
    pub fn can_transition(self, to: Self) -> bool {
        EXECUTION_TRANSITIONS.contains(&(self, to))
    }

    /// Whether the execution has ended for good.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

string_enum!(
    /// What started an execution.
    TriggerType("trigger_type") {
        Manual => "manual",
        Scheduled => "scheduled",
        Webhook => "webhook",
        Api => "api",
    }
);

/// A node's claim on a running execution, renewed by heartbeats. A lease that expires means
/// its node is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The node that runs the execution.
    pub owner: String,
    pub expires_at: OffsetDateTime,
}

/// One run of a task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskExecution {
    pub id: ExecutionId,
    pub task_id: TaskId,
    pub user_id: UserId,
    pub session_id: Option<SessionId>,
    pub trigger: TriggerType,
    pub variables: BTreeMap<String, Value>,
    /// The task version this execution runs, frozen when it was queued.
    pub snapshot: TaskSnapshot,
    status: ExecutionStatus,
    pub error_message: Option<String>,
    pub started_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
    pub duration_seconds: Option<f64>,
    pub result_message_id: Option<MessageId>,
    /// The run's structured result, when its task asks for one (`output_format`): checked
    /// against the task's schema before the run completes.
    pub structured_output: Option<Value>,
    pub report_id: Option<ReportId>,
    /// Set while a node holds the run.
    pub lease: Option<Lease>,
    /// How many times a node claimed the run.
    pub attempts: u32,
    /// When its agent was started: a run whose node is lost after this point cannot be
    /// re-queued safely (the agent may have acted), so it fails instead.
    pub agent_started_at: Option<OffsetDateTime>,
    /// For a scheduled run, the tick it runs for: one run per task and tick, whichever node
    /// creates it.
    pub scheduled_for: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TaskExecution {
    /// A new `pending` execution.
    #[must_use]
    pub fn new(
        id: ExecutionId,
        task_id: TaskId,
        user_id: UserId,
        trigger: TriggerType,
        variables: BTreeMap<String, Value>,
        snapshot: TaskSnapshot,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            task_id,
            user_id,
            session_id: None,
            trigger,
            variables,
            snapshot,
            status: ExecutionStatus::Pending,
            error_message: None,
            started_at: None,
            completed_at: None,
            duration_seconds: None,
            result_message_id: None,
            structured_output: None,
            report_id: None,
            lease: None,
            attempts: 0,
            agent_started_at: None,
            scheduled_for: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Rebuilds an execution read from storage in the status it was stored with.
    #[must_use]
    pub fn with_stored_status(mut self, status: ExecutionStatus) -> Self {
        self.status = status;
        self
    }

    #[must_use]
    pub fn status(&self) -> ExecutionStatus {
        self.status
    }

    /// Moves to `to` if the table allows it, returning the previous status.
    ///
    /// # Errors
    /// [`InvalidTransition`]; nothing changes.
    pub fn transition_to(
        &mut self,
        to: ExecutionStatus,
        now: OffsetDateTime,
    ) -> Result<ExecutionStatus, InvalidTransition> {
        let from = self.status;
        if !from.can_transition(to) {
            return Err(InvalidTransition {
                entity: "task execution",
                from: from.as_str(),
                to: to.as_str(),
            });
        }
        self.status = to;
        self.updated_at = now;
        Ok(from)
    }

    /// `pending → running` in `session`.
    ///
    /// # Errors
    /// [`InvalidTransition`] unless pending.
    pub fn start(
        &mut self,
        session: SessionId,
        now: OffsetDateTime,
    ) -> Result<ExecutionStatus, InvalidTransition> {
        let from = self.transition_to(ExecutionStatus::Running, now)?;
        self.session_id = Some(session);
        self.started_at = Some(now);
        Ok(from)
    }

    /// A claimed (`running`) run starts its agent in `session`: from here on a lost node means
    /// a failed run, not a re-queued one.
    ///
    /// # Errors
    /// [`InvalidTransition`] unless running.
    pub fn begin_agent(
        &mut self,
        session: SessionId,
        now: OffsetDateTime,
    ) -> Result<(), InvalidTransition> {
        if self.status != ExecutionStatus::Running {
            return Err(InvalidTransition {
                entity: "task execution",
                from: self.status.as_str(),
                to: "agent started",
            });
        }
        self.session_id = Some(session);
        self.started_at = Some(now);
        self.agent_started_at = Some(now);
        self.updated_at = now;
        Ok(())
    }

    /// `running → pending`: a claim handed back (its node stops before the agent started).
    ///
    /// # Errors
    /// [`InvalidTransition`] unless running.
    pub fn release(&mut self, now: OffsetDateTime) -> Result<ExecutionStatus, InvalidTransition> {
        let from = self.transition_to(ExecutionStatus::Pending, now)?;
        self.lease = None;
        Ok(from)
    }

    /// `running → completed`, recording the final message.
    ///
    /// # Errors
    /// [`InvalidTransition`] unless running.
    pub fn complete(
        &mut self,
        result_message: Option<MessageId>,
        now: OffsetDateTime,
    ) -> Result<ExecutionStatus, InvalidTransition> {
        let from = self.transition_to(ExecutionStatus::Completed, now)?;
        self.result_message_id = result_message;
        self.finish_timing(now);
        Ok(from)
    }

    /// `→ failed` with `reason`.
    ///
    /// # Errors
    /// [`InvalidTransition`] if already ended.
    pub fn fail(
        &mut self,
        reason: impl Into<String>,
        now: OffsetDateTime,
    ) -> Result<ExecutionStatus, InvalidTransition> {
        let from = self.transition_to(ExecutionStatus::Failed, now)?;
        self.error_message = Some(reason.into());
        self.finish_timing(now);
        Ok(from)
    }

    /// `→ cancelled`.
    ///
    /// # Errors
    /// [`InvalidTransition`] if already ended.
    pub fn cancel(&mut self, now: OffsetDateTime) -> Result<ExecutionStatus, InvalidTransition> {
        let from = self.transition_to(ExecutionStatus::Cancelled, now)?;
        self.finish_timing(now);
        Ok(from)
    }

    fn finish_timing(&mut self, now: OffsetDateTime) {
        // An ended run is held by no node.
        self.lease = None;
        self.completed_at = Some(now);
        self.duration_seconds = self
            .started_at
            .map(|started| (now - started).as_seconds_f64());
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use crate::agent_options::AgentOptions;
    use crate::template::{PromptTemplate, TaskTemplate};
    use ExecutionStatus::{Cancelled, Completed, Failed, Pending, Running};

    const EXPECTED: &[(ExecutionStatus, &[ExecutionStatus])] = &[
        (Pending, &[Running, Failed, Cancelled]),
        (Running, &[Completed, Failed, Cancelled, Pending]),
        (Completed, &[]),
        (Failed, &[]),
        (Cancelled, &[]),
    ];

    fn execution_in(status: ExecutionStatus) -> TaskExecution {
        let snapshot = TaskSnapshot {
            task_version: 1,
            template: TaskTemplate::new(PromptTemplate::parse("p").unwrap(), vec![]).unwrap(),
            options: AgentOptions::default(),
            task_name: None,
            report: None,
        };
        TaskExecution::new(
            ExecutionId::from_uuid(Uuid::nil()),
            TaskId::from_uuid(Uuid::nil()),
            UserId::from_uuid(Uuid::nil()),
            TriggerType::Manual,
            BTreeMap::new(),
            snapshot,
            datetime!(2026-01-01 0:00 UTC),
        )
        .with_stored_status(status)
    }

    #[test]
    fn every_pair_is_checked_against_the_table() {
        assert_eq!(EXPECTED.len(), ExecutionStatus::ALL.len());
        for &from in ExecutionStatus::ALL {
            let allowed = EXPECTED
                .iter()
                .find(|(f, _)| *f == from)
                .map(|(_, to)| *to)
                .unwrap();
            for &to in ExecutionStatus::ALL {
                let mut execution = execution_in(from);
                let result = execution.transition_to(to, datetime!(2026-01-01 0:01 UTC));
                if allowed.contains(&to) {
                    assert_eq!(result, Ok(from), "{from} -> {to} should be allowed");
                    assert_eq!(execution.status(), to);
                } else {
                    assert!(result.is_err(), "{from} -> {to} should be refused");
                    assert_eq!(execution.status(), from);
                }
            }
        }
    }

    #[test]
    fn a_run_records_its_timing() {
        let mut execution = execution_in(Pending);
        let session = SessionId::from_uuid(Uuid::from_u128(7));
        execution
            .start(session, datetime!(2026-01-01 0:00 UTC))
            .unwrap();
        assert_eq!(execution.session_id, Some(session));
        let result = MessageId::from_uuid(Uuid::from_u128(9));
        execution
            .complete(Some(result), datetime!(2026-01-01 0:00:44 UTC))
            .unwrap();
        assert_eq!(execution.status(), Completed);
        assert_eq!(execution.duration_seconds, Some(44.0));
        assert_eq!(execution.result_message_id, Some(result));
        assert!(
            execution
                .fail("late", datetime!(2026-01-01 0:01 UTC))
                .is_err()
        );
    }

    #[test]
    fn failing_before_start_has_no_duration() {
        let mut execution = execution_in(Pending);
        execution
            .fail("no workdir", datetime!(2026-01-01 0:00 UTC))
            .unwrap();
        assert_eq!(execution.error_message.as_deref(), Some("no workdir"));
        assert_eq!(execution.duration_seconds, None);
        assert!(execution.completed_at.is_some());
    }
}
