//! What the pool keeps per session: the live agent with its slot and activity, the recipe to
//! resume it, and how room was made for a start.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use overseer_domain::SessionId;
use overseer_ports::agent::{AgentCallbacks, AgentSession, AgentSpec};
use tokio::time::Instant;

use crate::agents::slots::Slot;
use crate::callbacks::activity::Activity;

/// A session's running agent.
pub(super) struct Live {
    pub(super) agent: Arc<dyn AgentSession>,
    /// Freed when the entry goes, after its agent is closed.
    pub(super) slot: Slot,
    pub(super) last_active: Instant,
    pub(super) busy: bool,
    pub(super) activity: Activity,
}

impl Live {
    pub(super) fn evictable(&self) -> bool {
        !self.busy && self.activity.is_quiet()
    }
}

/// What it takes to bring a session's agent back.
#[derive(Clone)]
pub(super) struct Recipe {
    pub(super) spec: AgentSpec,
    pub(super) callbacks: AgentCallbacks,
    pub(super) activity: Activity,
}

#[derive(Default)]
pub(super) struct Entries {
    pub(super) live: HashMap<SessionId, Live>,
    /// Sessions whose agent is being started.
    pub(super) starting: HashSet<SessionId>,
    /// Every session the pool knows, live or hibernated.
    pub(super) recipes: HashMap<SessionId, Recipe>,
}

/// How the pool made room for a start.
pub(super) enum Room {
    Free(Slot),
    /// A warm agent of this pool, taken out: spending it closes it and frees its slot.
    Warm(
        Arc<crate::agents::warm::WarmPool>,
        crate::agents::warm::Spent,
    ),
    Evicted(SessionId, Live),
    Queued(crate::agents::slots::Ticket, usize),
}
