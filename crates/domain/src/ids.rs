//! Typed identifiers: a `TaskId` can never be passed where a `SessionId` is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID (from storage, a URL, or an id source).
            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// Identifies a [`crate::User`].
    UserId
);
typed_id!(
    /// Identifies a [`crate::Task`].
    TaskId
);
typed_id!(
    /// Identifies a [`crate::TaskExecution`].
    ExecutionId
);
typed_id!(
    /// Identifies a [`crate::Session`].
    SessionId
);
typed_id!(
    /// Identifies a [`crate::Message`].
    MessageId
);
typed_id!(
    /// Identifies a [`crate::ToolCall`].
    ToolCallId
);
typed_id!(
    /// Identifies an [`crate::AuditLog`] entry.
    AuditLogId
);
typed_id!(
    /// Identifies a [`crate::Report`].
    ReportId
);
typed_id!(
    /// Identifies a [`crate::McpServer`].
    McpServerId
);
typed_id!(
    /// Identifies an [`crate::Approval`].
    ApprovalId
);
typed_id!(
    /// Identifies a [`crate::NotificationTarget`].
    NotificationTargetId
);
typed_id!(
    /// Identifies a [`crate::Delivery`]: the same id on every attempt, so receivers can
    /// drop duplicates.
    DeliveryId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_strings_and_json() {
        let uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let id = TaskId::from_uuid(uuid);
        assert_eq!(id.to_string().parse::<TaskId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{uuid}\""));
        assert_eq!(serde_json::from_str::<TaskId>(&json).unwrap(), id);
    }

    #[test]
    fn malformed_id_is_rejected() {
        assert!("not-a-uuid".parse::<SessionId>().is_err());
    }
}
