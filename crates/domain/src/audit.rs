//! The append-only audit trail.

use serde_json::Value;
use time::OffsetDateTime;

use crate::ids::{AuditLogId, UserId};
use crate::validation::{ValidationError, validated_string};

validated_string!(
    /// A dotted action name such as `task.executed` or `tool.permission_denied`.
    AuditAction,
    |value| {
        let valid = value.len() <= 64
            && value.contains('.')
            && value
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        if valid {
            Ok(())
        } else {
            Err(ValidationError::new("action_type", format!("'{value}' is not a dotted lowercase action")))
        }
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
    fn action_names() {
        assert!(AuditAction::new("task.executed").is_ok());
        assert!(AuditAction::new("tool.permission_denied").is_ok());
        for bad in ["task", "Task.executed", "task..x", ".x", "task.exe cuted"] {
            assert!(AuditAction::new(bad).is_err(), "{bad}");
        }
    }
}
