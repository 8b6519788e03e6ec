//! The error shared by the session and execution state machines.

/// A transition the state machine's table does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a {entity} cannot move from '{from}' to '{to}'")]
pub struct InvalidTransition {
    pub entity: &'static str,
    pub from: &'static str,
    pub to: &'static str,
}
