//! The live events subscribers receive, built in one place: by the node that stores them, and
//! by other nodes rebuilding them from the database (see [`crate::cluster::relay`]). Their wire
//! form is [`LiveEvent::payload`]'s.

use overseer_domain::{Approval, Message, SessionId, SessionStatus};
use overseer_ports::{LiveEvent, LiveEventBody, SharedMessage};

/// A stored message.
#[must_use]
pub fn message_event(message: Message) -> LiveEvent {
    LiveEvent {
        session_id: message.session_id,
        sequence: message.sequence_number,
        body: LiveEventBody::Message(std::sync::Arc::new(SharedMessage::new(message))),
    }
}

/// A pending approval; `reason` is the rule that asked (known only where it was asked).
#[must_use]
pub fn approval_event(approval: &Approval, sequence: u64, reason: Option<&str>) -> LiveEvent {
    LiveEvent {
        session_id: approval.session_id,
        sequence,
        body: LiveEventBody::Approval {
            approval_id: approval.id,
            tool_name: approval.tool_name.clone(),
            tool_input: approval.tool_input.clone(),
            tool_use_id: approval.tool_use_id.clone(),
            reason: reason.map(str::to_owned),
            expires_at: approval.expires_at.unix_timestamp(),
        },
    }
}

/// A status change.
#[must_use]
pub fn status_event(
    session: SessionId,
    sequence: u64,
    from: SessionStatus,
    to: SessionStatus,
    error_message: Option<&str>,
) -> LiveEvent {
    LiveEvent {
        session_id: session,
        sequence,
        body: LiveEventBody::Status {
            from,
            to,
            error_message: error_message.map(str::to_owned),
        },
    }
}

/// A session's start waits for an agent slot: every live agent is mid-turn. `position` 1 is
/// next in the queue.
#[must_use]
pub fn agent_waiting_event(session: SessionId, sequence: u64, position: usize) -> LiveEvent {
    LiveEvent {
        session_id: session,
        sequence,
        body: LiveEventBody::AgentWaiting {
            queue_position: position,
        },
    }
}

/// A turn that could not run (nothing was stored for it); `limit` names the setting that
/// bounded it, if one did.
#[must_use]
pub fn turn_failed_event(
    session: SessionId,
    sequence: u64,
    reason: &str,
    limit: Option<&str>,
) -> LiveEvent {
    LiveEvent {
        session_id: session,
        sequence,
        body: LiveEventBody::TurnFailed {
            reason: reason.to_owned(),
            limit: limit.map(str::to_owned),
        },
    }
}
