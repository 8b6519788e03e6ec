use std::time::Duration;

use overseer_domain::{ExecutionStatus, PermissionDecision, ToolCallStatus};

/// Why an agent's process was closed while its session stays resumable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hibernation {
    /// Idle past the idle timeout.
    IdleTimeout,
    /// Its slot went to another session (least recently used, or a waiter).
    ForAnotherSession,
}

impl Hibernation {
    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdleTimeout => "idle_timeout",
            Self::ForAnotherSession => "for_another_session",
        }
    }
}

/// How a person's approval ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovalResult {
    /// Allowed, by a rule or a person.
    Approved,
    /// Denied, by a rule, a person or expiry.
    Denied,
    /// Nobody answered in time (a deny).
    Expired,
    /// The approval could not be asked (a deny).
    Failed,
}

impl ApprovalResult {
    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Failed => "failed",
        }
    }
}

/// What the services report for operators' metrics. Every method has a no-op default, so an
/// adapter implements what it records. Calls must be cheap: they happen on the hot path.
pub trait Telemetry: Send + Sync {
    /// An execution reached a terminal status after running `ran` (`None` if it never ran).
    fn execution_finished(&self, _status: ExecutionStatus, _ran: Option<Duration>) {}

    /// An execution was claimed after waiting `queued` in the queue.
    fn execution_started(&self, _queued: Duration) {}

    /// An agent process became ready after `took`; `resumed` when it continued a conversation.
    fn agent_started(&self, _took: Duration, _resumed: bool) {}

    /// A session's agent was closed, to be resumed on its next message.
    fn agent_hibernated(&self, _why: Hibernation) {}

    /// A turn ended after `took` (user message → result).
    fn turn_finished(&self, _took: Duration, _is_error: bool) {}

    /// A turn's tokens and cost, by the model that answered.
    fn tokens_used(&self, _model: &str, _input: u64, _output: u64, _cost_usd: f64) {}

    /// A tool call ended (`completed`, `failed` or `denied`) after `duration`.
    fn tool_call_finished(&self, _tool: &str, _status: ToolCallStatus, _duration: Duration) {}

    /// A permission was decided after waiting `waited` (long for approvals).
    fn permission_decided(&self, _decision: PermissionDecision, _waited: Duration) {}

    /// A person's approval ended after `waited`.
    fn approval_decided(&self, _result: ApprovalResult, _waited: Duration) {}
}

/// Records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {}
