//! The append-only audit trail.

use serde_json::Value;
use time::OffsetDateTime;

use crate::ids::{AuditLogId, UserId};
use crate::string_enum::string_enum;
use crate::validation::{ValidationError, validated_string};

string_enum!(
    /// What an audit entry records: one of a fixed set, so a misspelt action cannot compile.
    AuditAction("action_type") {
        TaskCreated => "task.created",
        TaskUpdated => "task.updated",
        TaskDeleted => "task.deleted",
        TaskExecuted => "task.executed",
        TaskCancelled => "task.cancelled",
        TaskWebhookSecretRotated => "task.webhook_secret_rotated",
        TaskWebhookTriggered => "task.webhook_triggered",
        SessionCreated => "session.created",
        SessionForked => "session.forked",
        SessionTerminated => "session.terminated",
        SessionArchived => "session.archived",
        ToolPermissionGranted => "tool.permission_granted",
        ToolPermissionDenied => "tool.permission_denied",
        ToolApprovalRequested => "tool.approval_requested",
        ApprovalDecidedViaLink => "approval.decided_via_link",
        ToolPreUse => "tool.pre_use",
        ToolPostUse => "tool.post_use",
        ReportGenerated => "report.generated",
        QuotaUpdated => "quota.updated",
        /// A session reached its owner's soft budget threshold and asks to go on.
        BudgetApprovalRequested => "budget.approval_requested",
        /// A hard budget limit stopped a turn.
        BudgetStopped => "budget.stopped",
        McpServerCreated => "mcp_server.created",
        McpServerUpdated => "mcp_server.updated",
        McpServerDeleted => "mcp_server.deleted",
        NotificationTargetCreated => "notification_target.created",
        NotificationTargetDeleted => "notification_target.deleted",
        AuthRegistered => "auth.registered",
        AgentPromptSubmitted => "agent.prompt_submitted",
        AgentStopped => "agent.stopped",
        SubagentStarted => "agent.subagent_started",
        SubagentStopped => "agent.subagent_stopped",
        AgentCompacting => "agent.compacting",
        AgentNotification => "agent.notification",
        AuthLoginFailed => "auth.login_failed",
    }
);

validated_string!(
    /// The kind of resource an audit entry is about (`task`, `task_execution`, `session` …).
    ResourceType,
    |value| {
        let valid = !value.is_empty()
            && value.len() <= 64
            && value.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if valid {
            Ok(())
        } else {
            Err(ValidationError::new("resource_type", format!("'{value}' is not a lowercase resource type")))
        }
    }
);

/// One audit entry. There is no way to change or remove one once written.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditLog {
    pub id: AuditLogId,
    /// The acting user; `None` for anonymous actions such as a failed login.
    pub user_id: Option<UserId>,
    pub action: AuditAction,
    pub resource_type: ResourceType,
    pub resource_id: Option<String>,
    pub details: Value,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_a_fixed_set_of_dotted_names() {
        assert_eq!(
            "task.executed".parse::<AuditAction>().unwrap(),
            AuditAction::TaskExecuted
        );
        assert_eq!(
            AuditAction::ToolPermissionDenied.as_str(),
            "tool.permission_denied"
        );
        for action in AuditAction::ALL {
            let name = action.as_str();
            assert_eq!(name.parse::<AuditAction>().unwrap(), *action);
            let (kind, verb) = name.split_once('.').unwrap();
            assert!(!kind.is_empty() && !verb.is_empty(), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.'),
                "{name}"
            );
        }
        for bad in ["task", "Task.executed", "task.exploded", "task..x", ""] {
            let err = bad.parse::<AuditAction>().unwrap_err();
            assert_eq!(err.field, "action_type", "{bad}");
        }
    }
}
