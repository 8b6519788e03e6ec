//! A bounded pool of live agents keyed by session.
//!
//! One CLI process costs about 310 MB, so the node runs at most `max_live` of them (warm agents
//! included: they hold slots of the same [`AgentSlots`]). When a session needs an agent and
//! every slot is held, the pool makes room at once, in this order:
//! 1. a warm agent nobody has taken yet is spent (closed);
//! 2. the least recently used *idle* agent is closed: one with no turn in progress and nothing
//!    open with its host (no permission request or approval, hook, in-process tool call or
//!    control request). Its session is remembered and resumes with `--resume` on its next
//!    message ("hibernated").
//!
//! Only when every live agent is mid-turn does a start wait: in a first-come first-served queue,
//! served as soon as a turn ends, for at most `start_timeout` ([`PoolError::StartTimeout`]).
//! An agent idle past `idle_timeout` is closed the same way even when nobody needs its slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use overseer_domain::SessionId;
use overseer_ports::agent::{AgentCallbacks, AgentError, AgentRunner, AgentSession, AgentSpec};
use overseer_ports::{Hibernation, NoTelemetry, Telemetry};
use tokio::time::Instant;

mod agent_state;
mod config;
mod entries;

pub use agent_state::AgentState;
pub use config::{PoolConfig, PoolError};

use entries::{Entries, Live, Recipe, Room};

use crate::agents::slots::{AgentSlots, Slot};
use crate::agents::warm::WarmPool;
use crate::callbacks::activity::Activity;

/// Live agents by session, bounded, with eviction on demand and transparent resume.
pub struct AgentPool {
    runner: Arc<dyn AgentRunner>,
    slots: Arc<AgentSlots>,
    warm: Option<Arc<WarmPool>>,
    entries: Mutex<Entries>,
    /// One start at a time per session.
    start_locks: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<()>>>>,
    config: PoolConfig,
    telemetry: Arc<dyn Telemetry>,
}

impl std::fmt::Debug for AgentPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentPool")
            .field("config", &self.config)
            .field("live", &self.live_count())
            .finish_non_exhaustive()
    }
}

impl AgentPool {
    /// A pool with slots of its own and no warm agents.
    #[must_use]
    pub fn new(runner: Arc<dyn AgentRunner>, config: PoolConfig) -> Arc<Self> {
        Self::build(
            runner,
            config,
            AgentSlots::new(config.max_live),
            None,
            Arc::new(NoTelemetry),
        )
    }

    /// A pool sharing `warm`'s slots, which spends warm agents first when it needs room, and
    /// reports starts and hibernations to `telemetry`.
    #[must_use]
    pub fn with_warm(
        runner: Arc<dyn AgentRunner>,
        config: PoolConfig,
        warm: Arc<WarmPool>,
        telemetry: Arc<dyn Telemetry>,
    ) -> Arc<Self> {
        Self::build(runner, config, warm.slots(), Some(warm), telemetry)
    }

    fn build(
        runner: Arc<dyn AgentRunner>,
        config: PoolConfig,
        slots: Arc<AgentSlots>,
        warm: Option<Arc<WarmPool>>,
        telemetry: Arc<dyn Telemetry>,
    ) -> Arc<Self> {
        Arc::new(Self {
            runner,
            slots,
            warm,
            entries: Mutex::new(Entries::default()),
            start_locks: Mutex::new(HashMap::new()),
            config,
            telemetry,
        })
    }

    /// Agents now: (in a turn, idle) of sessions, and starts waiting for a slot.
    #[must_use]
    pub fn agent_counts(&self) -> (usize, usize, usize) {
        let (busy, idle) = {
            let entries = self.entries();
            let busy = entries
                .live
                .values()
                .filter(|live| !live.evictable())
                .count();
            (busy, entries.live.len() - busy)
        };
        (busy, idle, self.slots.waiting())
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pool's bounds.
    #[must_use]
    pub fn config(&self) -> PoolConfig {
        self.config
    }

    /// The agent's own transcript of a conversation (see [`AgentRunner::transcript`]).
    ///
    /// # Errors
    /// What the runner fails with.
    pub async fn transcript(
        &self,
        working_directory: &std::path::Path,
        agent_session_id: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, AgentError> {
        self.runner
            .transcript(working_directory, agent_session_id, max_bytes)
            .await
    }

    /// Copies a conversation for an agent in another working directory (see
    /// [`AgentRunner::copy_conversation`]).
    ///
    /// # Errors
    /// What the runner fails with.
    pub async fn copy_conversation(
        &self,
        from: &std::path::Path,
        to: &std::path::Path,
        agent_session_id: &str,
    ) -> Result<(), AgentError> {
        self.runner
            .copy_conversation(from, to, agent_session_id)
            .await
    }

    /// How many sessions' agents run now (warm agents not included).
    #[must_use]
    pub fn live_count(&self) -> usize {
        self.entries().live.len()
    }

    /// How many starts wait for a slot now.
    #[must_use]
    pub fn waiting_count(&self) -> usize {
        self.slots.waiting()
    }

    /// The live agent of `session`, if any.
    #[must_use]
    pub fn live(&self, session: SessionId) -> Option<Arc<dyn AgentSession>> {
        self.entries()
            .live
            .get(&session)
            .map(|live| live.agent.clone())
    }

    /// Whether `session` has a live agent.
    #[must_use]
    pub fn is_live(&self, session: SessionId) -> bool {
        self.entries().live.contains_key(&session)
    }

    /// Where `session`'s agent stands, if the pool has it live, starting or queued; `None`
    /// otherwise (hibernated or never started: the caller knows which).
    #[must_use]
    pub fn state(&self, session: SessionId) -> Option<AgentState> {
        {
            let entries = self.entries();
            if entries.live.contains_key(&session) {
                return Some(AgentState::Live);
            }
            if entries.starting.contains(&session) {
                return Some(AgentState::Starting);
            }
        }
        self.slots
            .position(session)
            .map(|position| AgentState::Waiting { position })
    }

    /// Marks `session`'s live agent as in a turn (never evicted until
    /// [`AgentPool::turn_finished`]) and returns it; `None` if it has no live agent.
    #[must_use]
    pub fn checkout(&self, session: SessionId) -> Option<Arc<dyn AgentSession>> {
        let mut entries = self.entries();
        let live = entries.live.get_mut(&session)?;
        live.busy = true;
        live.last_active = Instant::now();
        Some(live.agent.clone())
    }

    /// A slot for `session`'s agent: a free one, else a warm agent's, else the least recently
    /// used idle agent's (closed first, so the bound always holds); else a place in the queue,
    /// announced through `queued(position)`, until a turn ends.
    ///
    /// # Errors
    /// [`PoolError::StartTimeout`] after waiting the start timeout; [`AgentError::Closed`]
    /// when the pool shuts down meanwhile.
    pub async fn reserve(
        &self,
        session: SessionId,
        queued: impl FnOnce(usize),
    ) -> Result<Slot, PoolError> {
        let room = self.make_room(session);
        match room {
            Room::Free(slot) => Ok(slot),
            Room::Warm(warm, spent) => Ok(warm.spend(spent).await),
            Room::Evicted(victim, live) => {
                tracing::info!(session = %victim, "closing the least recently used idle agent for another session");
                self.telemetry
                    .agent_hibernated(Hibernation::ForAnotherSession);
                Ok(Self::close_entry(live).await)
            }
            Room::Queued(mut ticket, position) => {
                tracing::info!(session = %session, position, "every agent is in a turn: waiting for a slot");
                queued(position);
                let limit = self.config.start_timeout;
                match tokio::time::timeout(limit, &mut ticket.slot).await {
                    Ok(Ok(slot)) => Ok(slot),
                    Ok(Err(_)) => Err(AgentError::Closed.into()),
                    Err(_) => {
                        self.slots.cancel(&ticket);
                        // Handed over just as the time ran out: take it after all.
                        ticket.slot.try_recv().map_err(|_| PoolError::StartTimeout {
                            seconds: u64::try_from(limit.as_millis().div_ceil(1000))
                                .unwrap_or(u64::MAX),
                        })
                    }
                }
            }
        }
    }

    /// Decides, under the lock, where the slot comes from; so a turn that ends meanwhile sees
    /// the queue and serves it.
    fn make_room(&self, session: SessionId) -> Room {
        let mut entries = self.entries();
        if let Some(slot) = self.slots.try_take() {
            return Room::Free(slot);
        }
        if !self.slots.has_waiters() {
            if let Some(warm) = &self.warm
                && let Some(spent) = warm.take_any()
            {
                return Room::Warm(Arc::clone(warm), spent);
            }
            if let Some((victim, live)) = Self::evict_lru(&mut entries) {
                return Room::Evicted(victim, live);
            }
        }
        let ticket = self.slots.enqueue(session);
        let position = self.slots.position(session).unwrap_or(1);
        Room::Queued(ticket, position)
    }

    /// Takes the least recently used evictable agent out, remembering how to resume it.
    fn evict_lru(entries: &mut Entries) -> Option<(SessionId, Live)> {
        let victim = entries
            .live
            .iter()
            .filter(|(_, live)| live.evictable())
            .min_by_key(|(_, live)| live.last_active)
            .map(|(id, _)| *id)?;
        Self::hibernate(entries, victim).map(|live| (victim, live))
    }

    fn hibernate(entries: &mut Entries, session: SessionId) -> Option<Live> {
        let live = entries.live.remove(&session)?;
        if let (Some(recipe), Some(agent_id)) = (
            entries.recipes.get_mut(&session),
            live.agent.agent_session_id(),
        ) {
            recipe.spec.resume = Some(agent_id);
        }
        Some(live)
    }

    /// Closes an entry's agent, then gives its slot on.
    async fn close_entry(live: Live) -> Slot {
        let began = Instant::now();
        let _ = live.agent.close().await;
        tracing::debug!(took = ?began.elapsed(), "agent closed");
        live.slot
    }

    /// Starts `session`'s agent in `slot` and returns it in a turn (see
    /// [`AgentPool::checkout`]). `activity` must be the one `callbacks` were watched with
    /// ([`Activity::watch`]).
    ///
    /// # Errors
    /// What the runner's `start` fails with; the slot is freed again.
    #[tracing::instrument(name = "agent.start", skip_all, fields(session = %session, resumed = spec.resume.is_some()))]
    pub async fn launch(
        &self,
        session: SessionId,
        slot: Slot,
        spec: AgentSpec,
        callbacks: AgentCallbacks,
        activity: Activity,
    ) -> Result<Arc<dyn AgentSession>, AgentError> {
        self.entries().starting.insert(session);
        let began = Instant::now();
        let started = self.runner.start(spec.clone(), callbacks.clone()).await;
        self.entries().starting.remove(&session);
        let agent = started?;
        tracing::debug!(took = ?began.elapsed(), resumed = spec.resume.is_some(), "agent started");
        self.telemetry
            .agent_started(began.elapsed(), spec.resume.is_some());
        self.adopt(session, slot, spec, callbacks, activity, agent.clone())
            .await;
        Ok(agent)
    }

    /// Makes `agent`, started elsewhere with `spec` and `callbacks` (a warm agent, holding
    /// `slot`), the live agent of `session`, in a turn, as if [`AgentPool::launch`] had
    /// started it.
    pub async fn adopt(
        &self,
        session: SessionId,
        slot: Slot,
        spec: AgentSpec,
        callbacks: AgentCallbacks,
        activity: Activity,
        agent: Arc<dyn AgentSession>,
    ) {
        self.remember(session, spec, callbacks, activity.clone());
        self.insert_live(session, agent, slot, activity).await;
    }

    fn remember(
        &self,
        session: SessionId,
        spec: AgentSpec,
        callbacks: AgentCallbacks,
        activity: Activity,
    ) {
        self.entries().recipes.insert(
            session,
            Recipe {
                spec,
                callbacks,
                activity,
            },
        );
    }

    async fn insert_live(
        &self,
        session: SessionId,
        agent: Arc<dyn AgentSession>,
        slot: Slot,
        activity: Activity,
    ) {
        let replaced = self.entries().live.insert(
            session,
            Live {
                agent,
                slot,
                last_active: Instant::now(),
                busy: true,
                activity,
            },
        );
        if let Some(old) = replaced {
            drop(Self::close_entry(old).await);
        }
    }

    /// Starts an agent for `session` and leaves it idle: [`AgentPool::reserve`], then
    /// [`AgentPool::launch`], then [`AgentPool::turn_finished`].
    ///
    /// # Errors
    /// As [`AgentPool::reserve`] and [`AgentPool::launch`].
    pub async fn start(
        &self,
        session: SessionId,
        spec: AgentSpec,
        callbacks: AgentCallbacks,
    ) -> Result<Arc<dyn AgentSession>, PoolError> {
        let activity = Activity::default();
        let callbacks = activity.watch(callbacks);
        let slot = self.reserve(session, |_| {}).await?;
        let agent = self
            .launch(session, slot, spec, callbacks, activity)
            .await?;
        self.turn_finished(session).await;
        Ok(agent)
    }

    /// Sends a message to `session`'s agent, restarting it with `resume` if it hibernated,
    /// and returns the agent to read the answer from. The session counts as in a turn until
    /// [`AgentPool::turn_finished`]. Two messages racing to a hibernated session start one
    /// agent.
    ///
    /// # Errors
    /// [`AgentError::InvalidRequest`] for a session the pool never started; what reserving,
    /// starting or sending fails with.
    pub async fn send_message(
        &self,
        session: SessionId,
        text: &str,
    ) -> Result<Arc<dyn AgentSession>, PoolError> {
        let agent = match self.checkout(session) {
            Some(agent) => agent,
            None => self.resume(session).await?,
        };
        agent.send_message(text).await?;
        Ok(agent)
    }

    async fn resume(&self, session: SessionId) -> Result<Arc<dyn AgentSession>, PoolError> {
        let lock = self.start_lock(session);
        let _one_start = lock.lock().await;
        // Somebody else may have started it while this one waited.
        if let Some(agent) = self.checkout(session) {
            return Ok(agent);
        }
        let recipe = self.entries().recipes.get(&session).cloned();
        let Some(Recipe {
            spec,
            callbacks,
            activity,
        }) = recipe
        else {
            return Err(
                AgentError::InvalidRequest(format!("no agent for session {session}")).into(),
            );
        };
        let slot = self.reserve(session, |_| {}).await?;
        Ok(self
            .launch(session, slot, spec, callbacks, activity)
            .await?)
    }

    fn start_lock(&self, session: SessionId) -> Arc<tokio::sync::Mutex<()>> {
        self.start_locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(session)
            .or_default()
            .clone()
    }

    /// Records that `session`'s turn ended: from now on its idle time counts. If another
    /// session waits for a slot, this agent hibernates at once and its slot goes to it.
    pub async fn turn_finished(&self, session: SessionId) {
        let freed = {
            let mut entries = self.entries();
            let Some(live) = entries.live.get_mut(&session) else {
                return;
            };
            live.busy = false;
            live.last_active = Instant::now();
            if self.slots.has_waiters() && live.evictable() {
                Self::hibernate(&mut entries, session)
            } else {
                None
            }
        };
        if let Some(live) = freed {
            tracing::info!(session = %session, "hibernating an agent for a waiting session");
            self.telemetry
                .agent_hibernated(Hibernation::ForAnotherSession);
            drop(Self::close_entry(live).await);
        }
    }

    /// Interrupts `session`'s turn, if it has a live agent; the agent counts as busy meanwhile.
    /// Returns whether there was one.
    ///
    /// # Errors
    /// What the agent's interrupt fails with.
    pub async fn interrupt(&self, session: SessionId) -> Result<bool, AgentError> {
        let found = {
            let entries = self.entries();
            entries
                .live
                .get(&session)
                .map(|live| (live.agent.clone(), live.activity.begin()))
        };
        let Some((agent, _busy)) = found else {
            return Ok(false);
        };
        agent.interrupt().await?;
        Ok(true)
    }

    /// Closes agents idle past the idle timeout, and idle ones whose slot somebody waits for,
    /// keeping what is needed to resume them. Returns how many were closed.
    pub async fn evict_idle(&self) -> usize {
        let now = Instant::now();
        let evicted: Vec<(SessionId, Live)> = {
            let mut entries = self.entries();
            let mut wanted = self.slots.waiting();
            let mut idle: Vec<(SessionId, Instant)> = entries
                .live
                .iter()
                .filter(|(_, live)| live.evictable())
                .map(|(id, live)| (*id, live.last_active))
                .collect();
            idle.sort_by_key(|(_, last)| *last);
            let mut evicted = Vec::new();
            for (id, last) in idle {
                let expired = now.duration_since(last) >= self.config.idle_timeout;
                if !expired && wanted == 0 {
                    continue;
                }
                wanted = wanted.saturating_sub(1);
                if let Some(live) = Self::hibernate(&mut entries, id) {
                    self.telemetry.agent_hibernated(if expired {
                        Hibernation::IdleTimeout
                    } else {
                        Hibernation::ForAnotherSession
                    });
                    evicted.push((id, live));
                }
            }
            evicted
        };
        let count = evicted.len();
        for (session, live) in evicted {
            tracing::debug!(session = %session, "hibernating an idle agent");
            drop(Self::close_entry(live).await);
        }
        count
    }

    /// Closes `session`'s agent if it is idle (no turn, approval or control request open),
    /// keeping what is needed to resume it, so that all it wrote (its conversation) is on
    /// disk. Returns whether no agent of the session is live now (`false`: it is busy).
    pub async fn hibernate_idle(&self, session: SessionId) -> bool {
        let live = {
            let mut entries = self.entries();
            match entries.live.get(&session) {
                None => return true,
                Some(live) if !live.evictable() => return false,
                Some(_) => Self::hibernate(&mut entries, session),
            }
        };
        if let Some(live) = live {
            drop(Self::close_entry(live).await);
        }
        true
    }

    /// Closes `session`'s agent, frees its slot and forgets it.
    pub async fn release(&self, session: SessionId) {
        let live = {
            let mut entries = self.entries();
            entries.recipes.remove(&session);
            entries.live.remove(&session)
        };
        self.start_locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&session);
        if let Some(live) = live {
            drop(Self::close_entry(live).await);
        }
    }

    /// Stops every agent at once (shutdown): interrupts its turn, then closes it.
    pub async fn close_all(&self) {
        let live: Vec<Live> = self.entries().live.drain().map(|(_, live)| live).collect();
        let mut closing = tokio::task::JoinSet::new();
        for entry in live {
            closing.spawn(async move {
                // A hung agent does not answer an interrupt: close kills it after its grace.
                let _ = tokio::time::timeout(Duration::from_secs(2), entry.agent.interrupt()).await;
                drop(Self::close_entry(entry).await);
            });
        }
        while closing.join_next().await.is_some() {}
    }

    /// Runs [`AgentPool::evict_idle`] every `every` while the pool exists. The caller owns
    /// the returned task.
    pub fn spawn_evictor(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let pool: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(pool) = pool.upgrade() else { break };
                pool.evict_idle().await;
            }
        })
    }
}

#[cfg(test)]
mod tests;
