//! Who is asking, from where, and what every service needs.

use std::sync::Arc;

use overseer_domain::UserId;
use overseer_ports::{Clock, IdSource, Repositories, Scope};

/// The caller of a use case, as the HTTP layer (or a scheduler) saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    /// Who acts.
    pub user_id: UserId,
    /// Whether they act as an admin (every owner's resources).
    pub is_admin: bool,
    /// The client's address, for the audit trail.
    pub ip_address: Option<String>,
    /// The client's user agent, for the audit trail.
    pub user_agent: Option<String>,
}

impl RequestContext {
    /// A caller with no network origin (scheduler, tests).
    #[must_use]
    pub fn internal(user_id: UserId) -> Self {
        Self {
            user_id,
            is_admin: false,
            ip_address: None,
            user_agent: None,
        }
    }

    /// What the caller may see: everything for an admin, their own rows otherwise.
    #[must_use]
    pub fn scope(&self) -> Scope {
        if self.is_admin {
            Scope::Admin
        } else {
            Scope::Owner(self.user_id)
        }
    }
}

/// The ports every service uses.
#[derive(Clone)]
pub struct Deps {
    /// Every repository.
    pub repos: Repositories,
    /// What time it is.
    pub clock: Arc<dyn Clock>,
    /// Where new ids come from.
    pub ids: Arc<dyn IdSource>,
}

impl Deps {
    /// `repos` with the system clock and random (UUIDv7) ids: what runs everywhere but in
    /// tests that control time or ids.
    #[must_use]
    pub fn system(repos: Repositories) -> Self {
        Self {
            repos,
            clock: Arc::new(overseer_ports::SystemClock),
            ids: Arc::new(overseer_ports::RandomIds),
        }
    }
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps").finish_non_exhaustive()
    }
}
