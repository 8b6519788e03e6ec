//! Sessions: one conversation with one agent process, and its state machine.

use time::OffsetDateTime;

use crate::agent_options::AgentOptions;
use crate::ids::{SessionId, UserId};
use crate::state_machine::InvalidTransition;
use crate::string_enum::string_enum;
use crate::task::check_description;
use crate::validation::{ValidationError, check_text, validated_string};

string_enum!(
    /// Where a session is in its life.
    SessionStatus("status") {
        /// Stored, no agent process yet.
        Created => "created",
        /// The agent process is starting.
        Connecting => "connecting",
        /// The agent is ready for a message.
        Active => "active",
        /// A message is being answered.
        Processing => "processing",
        /// Ended by an error.
        Failed => "failed",
        /// Ended on request.
        Terminated => "terminated",
        /// Ended and its working directory moved to the archive.
        Archived => "archived",
    }
);

/// Every allowed move. Anything not listed is an [`InvalidTransition`].
const SESSION_TRANSITIONS: &[(SessionStatus, SessionStatus)] = {
    use SessionStatus::{Active, Archived, Connecting, Created, Failed, Processing, Terminated};
    &[
        (Created, Connecting),
        (Created, Failed),
        (Created, Terminated),
        (Connecting, Active),
        (Connecting, Failed),
        (Connecting, Terminated),
        (Active, Processing),
        // The agent process was evicted from the pool: restart it (resume) before the next turn.
        (Active, Connecting),
        (Active, Failed),
        (Active, Terminated),
        (Processing, Active),
        (Processing, Failed),
        (Processing, Terminated),
        (Failed, Archived),
        (Terminated, Archived),
    ]
};

impl SessionStatus {
    /// Whether the transition table allows `self → to`.
    #[must_use]
    pub fn can_transition(self, to: Self) -> bool {
        SESSION_TRANSITIONS.contains(&(self, to))
    }

    /// Whether a new message may be sent in this state.
    #[must_use]
    pub fn accepts_messages(self) -> bool {
        matches!(self, Self::Created | Self::Connecting | Self::Active)
    }

    /// Whether the session has not ended.
    #[must_use]
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Self::Created | Self::Connecting | Self::Active | Self::Processing
        )
    }
}

string_enum!(
    /// Why a session exists.
    SessionMode("mode") {
        /// Opened by a user to talk to the agent.
        Interactive => "interactive",
        /// Created by a task execution.
        Task => "task",
    }
);

validated_string!(
    /// A session's display name: 1 to 300 characters.
    SessionName,
    |value| check_text("name", value, 300)
);

/// Running totals of a session. `message_count` is also the last assigned sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SessionUsage {
    pub message_count: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_cost_usd: f64,
}

/// What a caller supplies to create a session.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSession {
    pub user_id: UserId,
    pub name: SessionName,
    pub description: Option<String>,
    pub mode: SessionMode,
    pub options: AgentOptions,
}

/// A conversation with an agent.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub name: SessionName,
    pub description: Option<String>,
    pub mode: SessionMode,
    status: SessionStatus,
    pub working_directory_path: Option<String>,
    pub options: AgentOptions,
    /// The CLI's own session id, used to resume the conversation in a new process.
    pub agent_session_id: Option<String>,
    pub usage: SessionUsage,
    pub error_message: Option<String>,
    /// The node that holds the session's working directory and runs its agent: with several
    /// nodes, its messages, interrupts and approvals are delivered there.
    pub host_node: Option<String>,
    /// For a fork: the session it was forked from, and the conversation (agent session id) it
    /// continues. While `agent_session_id` is still that conversation, the session's agent
    /// starts as a fork of it; its first turn gives it its own.
    pub forked_from: Option<Fork>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Session {
    /// A new session in `created`.
    ///
    /// # Errors
    /// A [`ValidationError`] on `description`.
    pub fn new(
        id: SessionId,
        new: NewSession,
        now: OffsetDateTime,
    ) -> Result<Self, ValidationError> {
        check_description(new.description.as_deref())?;
        Ok(Self {
            id,
            user_id: new.user_id,
            name: new.name,
            description: new.description,
            mode: new.mode,
            status: SessionStatus::Created,
            working_directory_path: None,
            options: new.options,
            agent_session_id: None,
            usage: SessionUsage::default(),
            error_message: None,
            host_node: None,
            forked_from: None,
            created_at: now,
            updated_at: now,
        })
    }

    /// Rebuilds a session read from storage in the status it was stored with.
    #[must_use]
    pub fn with_stored_status(mut self, status: SessionStatus) -> Self {
        self.status = status;
        self
    }

    #[must_use]
    pub fn status(&self) -> SessionStatus {
        self.status
    }

    /// Moves to `to` if the table allows it, returning the previous status (the value a
    /// compare-and-set store must still find).
    ///
    /// # Errors
    /// [`InvalidTransition`] if the table does not allow `status → to`; nothing changes.
    pub fn transition_to(
        &mut self,
        to: SessionStatus,
        now: OffsetDateTime,
    ) -> Result<SessionStatus, InvalidTransition> {
        let from = self.status;
        if !from.can_transition(to) {
            return Err(InvalidTransition {
                entity: "session",
                from: from.as_str(),
                to: to.as_str(),
            });
        }
        self.status = to;
        self.updated_at = now;
        Ok(from)
    }

    /// Moves to `failed` with `reason`.
    ///
    /// # Errors
    /// [`InvalidTransition`] if the session has already ended.
    pub fn fail(
        &mut self,
        reason: impl Into<String>,
        now: OffsetDateTime,
    ) -> Result<SessionStatus, InvalidTransition> {
        let from = self.transition_to(SessionStatus::Failed, now)?;
        self.error_message = Some(reason.into());
        Ok(from)
    }
}

/// Where a forked session came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fork {
    /// The session it was forked from.
    pub session: SessionId,
    /// The conversation it continues (the parent's agent session id at the fork).
    pub conversation: String,
    /// Where in that conversation it branches off: the agent's id of the last message it
    /// keeps (`None`: all of it).
    pub at_message: Option<String>,
}

impl Session {
    /// Whether the session's agent must start as a fork of its conversation: it was forked
    /// and has no conversation of its own yet.
    #[must_use]
    pub fn starts_as_fork(&self) -> bool {
        self.forked_from.as_ref().is_some_and(|fork| {
            self.agent_session_id.as_deref() == Some(fork.conversation.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use SessionStatus::{Active, Archived, Connecting, Created, Failed, Processing, Terminated};

    /// The allowed moves, written out independently of `SESSION_TRANSITIONS` so that a change
    /// to the table must be made in both places.
    const EXPECTED: &[(SessionStatus, &[SessionStatus])] = &[
        (Created, &[Connecting, Failed, Terminated]),
        (Connecting, &[Active, Failed, Terminated]),
        (Active, &[Processing, Connecting, Failed, Terminated]),
        (Processing, &[Active, Failed, Terminated]),
        (Failed, &[Archived]),
        (Terminated, &[Archived]),
        (Archived, &[]),
    ];

    fn session_in(status: SessionStatus) -> Session {
        let new = NewSession {
            user_id: UserId::from_uuid(Uuid::nil()),
            name: SessionName::new("s").unwrap(),
            description: None,
            mode: SessionMode::Interactive,
            options: AgentOptions::default(),
        };
        Session::new(
            SessionId::from_uuid(Uuid::nil()),
            new,
            datetime!(2026-01-01 0:00 UTC),
        )
        .unwrap()
        .with_stored_status(status)
    }

    #[test]
    fn every_pair_is_checked_against_the_table() {
        assert_eq!(EXPECTED.len(), SessionStatus::ALL.len());
        let later = datetime!(2026-01-02 0:00 UTC);
        for &from in SessionStatus::ALL {
            let allowed = EXPECTED
                .iter()
                .find(|(f, _)| *f == from)
                .map(|(_, to)| *to)
                .unwrap();
            for &to in SessionStatus::ALL {
                let mut session = session_in(from);
                let result = session.transition_to(to, later);
                if allowed.contains(&to) {
                    assert_eq!(result, Ok(from), "{from} -> {to} should be allowed");
                    assert_eq!(session.status(), to);
                    assert_eq!(session.updated_at, later);
                } else {
                    assert_eq!(
                        result,
                        Err(InvalidTransition {
                            entity: "session",
                            from: from.as_str(),
                            to: to.as_str()
                        }),
                        "{from} -> {to} should be refused"
                    );
                    assert_eq!(session.status(), from, "a refused move changes nothing");
                }
            }
        }
    }

    #[test]
    fn only_created_active_and_connecting_accept_messages() {
        let accepting: Vec<_> = SessionStatus::ALL
            .iter()
            .filter(|s| s.accepts_messages())
            .collect();
        assert_eq!(accepting, vec![&Created, &Connecting, &Active]);
    }

    #[test]
    fn fail_records_the_reason_and_refuses_ended_sessions() {
        let mut session = session_in(Processing);
        session
            .fail("agent crashed", datetime!(2026-01-02 0:00 UTC))
            .unwrap();
        assert_eq!(session.status(), Failed);
        assert_eq!(session.error_message.as_deref(), Some("agent crashed"));
        let mut ended = session_in(Terminated);
        assert!(ended.fail("late", datetime!(2026-01-02 0:00 UTC)).is_err());
        assert_eq!(ended.error_message, None);
    }

    #[test]
    fn statuses_parse_from_their_strings() {
        for &status in SessionStatus::ALL {
            assert_eq!(status.as_str().parse::<SessionStatus>().unwrap(), status);
        }
        assert!("running".parse::<SessionStatus>().is_err());
    }
}
