use std::time::Duration;

use overseer_domain::{ExecutionStatus, PermissionDecision, ToolCallStatus};

/// What the services report for operators' metrics. Every method has a no-op default, so an
/// adapter implements what it records.
pub trait Telemetry: Send + Sync {
    /// An execution reached a terminal status.
    fn execution_finished(&self, _status: ExecutionStatus) {}

    /// A tool call ended (`completed`, `failed` or `denied`) after `duration`.
    fn tool_call_finished(&self, _tool: &str, _status: ToolCallStatus, _duration: Duration) {}

    /// A permission was decided after waiting `waited` (long for approvals).
    fn permission_decided(&self, _decision: PermissionDecision, _waited: Duration) {}
}

/// Records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {}
