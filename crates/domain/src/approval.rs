//! Approvals: a person's answer to a tool use that a rule says to ask about, or to a session
//! that reached its owner's soft budget threshold ("continue past $X?").

use serde_json::Value;
use time::OffsetDateTime;

use crate::ids::{ApprovalId, SessionId, UserId};
use crate::state_machine::InvalidTransition;
use crate::string_enum::string_enum;

string_enum!(
    /// Where an approval is.
    ApprovalStatus("status") {
        Pending => "pending",
        Allowed => "allowed",
        Denied => "denied",
        Expired => "expired",
    }
);

string_enum!(
    /// What an approval asks about.
    ApprovalKind("kind") {
        /// May the agent use this tool with this input? (`tool_name`, `tool_input`)
        ToolUse => "tool_use",
        /// May the session go on past its owner's soft budget threshold? `tool_name` is empty;
        /// `tool_input` is `{"threshold_usd", "spent_usd"}`.
        Budget => "budget",
    }
);

/// A pending or answered approval request.
#[derive(Clone, Debug, PartialEq)]
pub struct Approval {
    pub id: ApprovalId,
    pub session_id: SessionId,
    /// The session's owner: the one who may answer.
    pub user_id: UserId,
    pub kind: ApprovalKind,
    pub tool_use_id: Option<String>,
    pub tool_name: String,
    pub tool_input: Value,
    status: ApprovalStatus,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<OffsetDateTime>,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

impl Approval {
    /// A new pending approval.
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn pending(
        id: ApprovalId,
        session_id: SessionId,
        user_id: UserId,
        tool_use_id: Option<String>,
        tool_name: String,
        tool_input: Value,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            session_id,
            user_id,
            kind: ApprovalKind::ToolUse,
            tool_use_id,
            tool_name,
            tool_input,
            status: ApprovalStatus::Pending,
            decided_by: None,
            decided_at: None,
            expires_at,
            created_at: now,
        }
    }

    /// A new pending question whether `session_id` may go on past `threshold_usd`, having
    /// spent `spent_usd`.
    #[must_use]
    pub fn budget(
        id: ApprovalId,
        session_id: SessionId,
        user_id: UserId,
        threshold_usd: f64,
        spent_usd: f64,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Self {
        let input = serde_json::json!({"threshold_usd": threshold_usd, "spent_usd": spent_usd});
        Self {
            kind: ApprovalKind::Budget,
            ..Self::pending(
                id,
                session_id,
                user_id,
                None,
                String::new(),
                input,
                now,
                expires_at,
            )
        }
    }

    /// Rebuilds an approval read from storage.
    #[must_use]
    pub fn with_stored_status(mut self, status: ApprovalStatus) -> Self {
        self.status = status;
        self
    }

    #[must_use]
    pub fn status(&self) -> ApprovalStatus {
        self.status
    }

    /// Answers a pending approval (`allowed`, `denied`) or lets it lapse (`expired`, no one).
    ///
    /// # Errors
    /// [`InvalidTransition`] unless pending and `to` is an answer.
    pub fn resolve(
        &mut self,
        to: ApprovalStatus,
        by: Option<UserId>,
        now: OffsetDateTime,
    ) -> Result<(), InvalidTransition> {
        if self.status != ApprovalStatus::Pending || to == ApprovalStatus::Pending {
            return Err(InvalidTransition {
                entity: "approval",
                from: self.status.as_str(),
                to: to.as_str(),
            });
        }
        self.status = to;
        self.decided_by = by;
        self.decided_at = Some(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn only_a_pending_approval_resolves_once() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let nil = Uuid::nil();
        let mut approval = Approval::pending(
            ApprovalId::from_uuid(nil),
            SessionId::from_uuid(nil),
            UserId::from_uuid(nil),
            Some("toolu_1".into()),
            "Bash".into(),
            Value::Null,
            now,
            now,
        );
        for &to in ApprovalStatus::ALL {
            let mut copy = approval.clone();
            assert_eq!(
                copy.resolve(to, None, now).is_ok(),
                to != ApprovalStatus::Pending,
                "{to}"
            );
        }
        approval
            .resolve(ApprovalStatus::Allowed, Some(UserId::from_uuid(nil)), now)
            .unwrap();
        assert!(approval.resolve(ApprovalStatus::Denied, None, now).is_err());
        assert_eq!(approval.status(), ApprovalStatus::Allowed);
    }
}
