//! Warm agents: CLIs started and initialized ahead of demand, so that a new session's first
//! turn skips the CLI's start (≈ 355 ms saved per run, docs/benchmarks.md "Warm pool").
//!
//! A CLI's command line is fixed when it is spawned, so a warm agent serves only a run whose
//! final spec it was started with: the same options (after the MCP merge and the budget cap),
//! no resume, no extra environment, the same kinds of callbacks and no in-process MCP servers.
//! The pool learns which option sets to keep warm from demand: every first start asks for one,
//! and the pool keeps one agent ready for each of the most recent `max_agents` sets. A set
//! nobody asks for within `max_age` goes cold again, so the memory (≈ 200 MiB per CLI) is held
//! only while it is used.
//!
//! Warm agents hold slots of the node's bound on live agents ([`AgentSlots`]): one is started
//! only into a free slot (never by evicting anything, never by waiting), and when a session
//! needs a slot and none is free, a warm agent is spent first ([`WarmPool::take_any`]), before
//! any session's idle agent.
//!
//! Two things are bound late. The working directory is created with the warm agent, under a
//! fresh id, and the session that takes the agent adopts it. The callbacks (permission policy,
//! audit and tool-tracking hooks) are bound when a session takes the agent: before that no
//! prompt was sent, so nothing can call them, and anything that still does is refused.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use overseer_domain::SessionId;
use overseer_ports::agent::{
    AgentCallbacks, AgentRunner, AgentSession, AgentSpec, HookEvent, HookHandler, HookKind,
    HookVerdict, PermissionHandler, PermissionRequest, PermissionVerdict,
};
use overseer_ports::{IdSource, Workspaces};
use tokio::time::Instant;

use crate::agents::slots::{AgentSlots, Slot};

/// How many agents the pool keeps warm, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct WarmPoolConfig {
    /// Warm agents at most, which is also how many option sets are kept warm; 0 turns the
    /// pool off. Each one holds a whole CLI, ≈ 200 MiB resident.
    pub max_agents: usize,
    /// An option set nobody asked for within this time is let go, with its agent.
    pub max_age: Duration,
}

impl WarmPoolConfig {
    /// How long an option set stays warm after the last run that asked for it.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);
}

impl Default for WarmPoolConfig {
    fn default() -> Self {
        Self {
            max_agents: 0,
            max_age: Self::DEFAULT_MAX_AGE,
        }
    }
}

/// A warm agent handed to a session, and the working directory it runs in.
pub struct Taken {
    pub agent: Arc<dyn AgentSession>,
    pub working_directory: PathBuf,
    /// The agent's slot, now the session's.
    pub slot: Slot,
}

impl std::fmt::Debug for Taken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Taken")
            .field("working_directory", &self.working_directory)
            .finish_non_exhaustive()
    }
}

/// Which callbacks a run registers with the CLI at start; part of what a warm agent must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    permissions: bool,
    hooks: Option<&'static [HookKind]>,
}

/// An option set to keep warm.
struct Wanted {
    key: String,
    template: AgentSpec,
    shape: Shape,
    last_asked: Instant,
}

struct Ready {
    key: String,
    agent: Arc<dyn AgentSession>,
    working_directory: PathBuf,
    binding: Arc<Binding>,
    slot: Slot,
}

/// A warm agent taken out to free its slot; [`WarmPool::spend`] closes it.
pub struct Spent(Ready);

impl std::fmt::Debug for Spent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spent").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    wanted: Vec<Wanted>,
    ready: Vec<Ready>,
    /// Keys of the agents being started now.
    starting: Vec<String>,
    closed: bool,
}

/// Agents started ahead of demand for the option sets asked for most recently.
pub struct WarmPool {
    runner: Arc<dyn AgentRunner>,
    slots: Arc<AgentSlots>,
    workspaces: Arc<dyn Workspaces>,
    ids: Arc<dyn IdSource>,
    config: WarmPoolConfig,
    state: Mutex<State>,
}

impl std::fmt::Debug for WarmPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmPool")
            .field("config", &self.config)
            .field("ready", &self.ready_count())
            .finish_non_exhaustive()
    }
}

impl WarmPool {
    /// A pool of warm agents started with `runner` within `slots`, configured by `config`.
    #[must_use]
    pub fn new(
        runner: Arc<dyn AgentRunner>,
        workspaces: Arc<dyn Workspaces>,
        ids: Arc<dyn IdSource>,
        config: WarmPoolConfig,
        slots: Arc<AgentSlots>,
    ) -> Arc<Self> {
        Arc::new(Self {
            runner,
            slots,
            workspaces,
            ids,
            config,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The slots warm agents take theirs from, shared with the sessions' agents.
    #[must_use]
    pub fn slots(&self) -> Arc<AgentSlots> {
        Arc::clone(&self.slots)
    }

    /// Takes out the warm agent whose option set was asked for least recently, to free its
    /// slot for a session; `None` when none is ready.
    #[must_use]
    pub fn take_any(&self) -> Option<Spent> {
        let mut state = self.state();
        let last_asked = |key: &str| {
            state
                .wanted
                .iter()
                .find(|w| w.key == key)
                .map(|w| w.last_asked)
        };
        let at = (0..state.ready.len()).min_by_key(|&at| last_asked(&state.ready[at].key))?;
        Some(Spent(state.ready.swap_remove(at)))
    }

    /// Closes a spent warm agent and removes its directory; returns its slot.
    pub async fn spend(&self, spent: Spent) -> Slot {
        let ready = spent.0;
        tracing::debug!("spending a warm agent's slot on a session");
        let _ = ready.agent.close().await;
        self.discard(&ready.working_directory).await;
        ready.slot
    }

    /// How many warm agents wait now.
    #[must_use]
    pub fn ready_count(&self) -> usize {
        self.state().ready.len()
    }

    /// A warm agent started with exactly `spec` (but for its working directory) and bound to
    /// `callbacks` from now on, if one is ready. Hit or miss, `spec` counts as asked for: the
    /// pool starts an agent for it in the background, for the next run.
    pub fn take(self: &Arc<Self>, spec: &AgentSpec, callbacks: &AgentCallbacks) -> Option<Taken> {
        if self.config.max_agents == 0 {
            return None;
        }
        let (shape, key) = poolable(spec, callbacks)?;
        let (taken, dropped) = {
            let mut state = self.state();
            if state.closed {
                return None;
            }
            let dropped = ask_for(&mut state, &key, spec, shape, self.config.max_agents);
            let taken = state
                .ready
                .iter()
                .position(|ready| ready.key == key && !ready.agent.has_exited())
                .map(|at| state.ready.swap_remove(at));
            (taken, dropped)
        };
        self.let_go(dropped);
        self.refill();
        let taken = taken?;
        taken.binding.bind(callbacks.clone());
        tracing::debug!(dir = %taken.working_directory.display(), "a session takes a warm agent");
        Some(Taken {
            agent: taken.agent,
            working_directory: taken.working_directory,
            slot: taken.slot,
        })
    }

    /// Starts an agent for every wanted option set that has none ready or starting.
    fn refill(self: &Arc<Self>) {
        let to_start: Vec<(String, AgentSpec, Shape, Slot)> = {
            let mut guard = self.state();
            // Split the borrows: wanted sets are read while `starting` grows.
            let State {
                wanted,
                ready,
                starting,
                ..
            } = &mut *guard;
            let mut to_start = Vec::new();
            for w in wanted.iter() {
                let covered = ready.iter().any(|r| r.key == w.key) || starting.contains(&w.key);
                let room = ready.len() + starting.len() < self.config.max_agents;
                if !covered && room {
                    // Only into a free slot: a warm agent never waits or evicts anybody.
                    let Some(slot) = self.slots.try_take() else {
                        break;
                    };
                    starting.push(w.key.clone());
                    to_start.push((w.key.clone(), w.template.clone(), w.shape, slot));
                }
            }
            to_start
        };
        for (key, template, shape, slot) in to_start {
            let pool = Arc::downgrade(self);
            tokio::spawn(async move {
                if let Some(pool) = pool.upgrade() {
                    pool.start_one(key, template, shape, slot).await;
                }
            });
        }
    }

    async fn start_one(&self, key: String, mut spec: AgentSpec, shape: Shape, slot: Slot) {
        let directory_id = SessionId::from_uuid(self.ids.new_id());
        let started = match self.workspaces.create(directory_id).await {
            Ok(dir) => {
                spec.working_directory = dir;
                let binding = Arc::new(Binding {
                    shape,
                    bound: OnceLock::new(),
                });
                self.runner
                    .start(spec.clone(), binding.callbacks())
                    .await
                    .map(|agent| (agent, binding))
                    .map_err(|err| err.to_string())
            }
            Err(err) => Err(err.to_string()),
        };
        let refused = {
            let mut state = self.state();
            if let Some(at) = state.starting.iter().position(|k| *k == key) {
                state.starting.swap_remove(at);
            }
            match started {
                Ok((agent, binding))
                    if !state.closed && state.wanted.iter().any(|w| w.key == key) =>
                {
                    state.ready.push(Ready {
                        key,
                        agent,
                        working_directory: spec.working_directory.clone(),
                        binding,
                        slot,
                    });
                    None
                }
                Ok((agent, _)) => Some((Some(agent), slot)),
                Err(err) => {
                    // Not again until someone asks: a set that cannot start must not spin.
                    tracing::warn!(error = %err, "cannot start a warm agent");
                    state.wanted.retain(|w| w.key != key);
                    Some((None, slot))
                }
            }
        };
        // The slot is given back only once the process is gone.
        if let Some((agent, slot)) = refused {
            if let Some(agent) = agent {
                let _ = agent.close().await;
            }
            drop(slot);
            self.discard(&spec.working_directory).await;
        }
    }

    /// Lets go of option sets nobody asked for within `max_age`, with their agents. Returns
    /// how many agents were closed.
    pub async fn expire(&self) -> usize {
        let now = Instant::now();
        let dropped = {
            let mut state = self.state();
            let max_age = self.config.max_age;
            state
                .wanted
                .retain(|w| now.duration_since(w.last_asked) < max_age);
            let keep: Vec<String> = state.wanted.iter().map(|w| w.key.clone()).collect();
            drain_where(&mut state.ready, |ready| {
                !keep.contains(&ready.key) || ready.agent.has_exited()
            })
        };
        let count = dropped.len();
        self.close(dropped).await;
        count
    }

    /// Closes every warm agent (shutdown); none is started any more.
    pub async fn close_all(&self) {
        let dropped = {
            let mut state = self.state();
            state.closed = true;
            state.wanted.clear();
            std::mem::take(&mut state.ready)
        };
        self.close(dropped).await;
    }

    /// Runs [`WarmPool::expire`] every `every` while the pool exists.
    pub fn spawn_expiry(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let pool: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(pool) = pool.upgrade() else { break };
                pool.expire().await;
            }
        })
    }

    fn let_go(self: &Arc<Self>, dropped: Vec<Ready>) {
        if dropped.is_empty() {
            return;
        }
        let pool = Arc::clone(self);
        tokio::spawn(async move { pool.close(dropped).await });
    }

    async fn close(&self, dropped: Vec<Ready>) {
        for ready in dropped {
            let _ = ready.agent.close().await;
            self.discard(&ready.working_directory).await;
        }
    }

    async fn discard(&self, dir: &std::path::Path) {
        if let Err(err) = self.workspaces.discard(dir).await {
            tracing::warn!(dir = %dir.display(), error = %err, "cannot remove a warm agent's directory");
        }
    }
}

/// The shape and key of a run a warm agent can serve, or `None`.
fn poolable(spec: &AgentSpec, callbacks: &AgentCallbacks) -> Option<(Shape, String)> {
    // In-process servers answer the CLI while it starts, so they cannot be bound late.
    if spec.resume.is_some() || !spec.env.is_empty() || !callbacks.mcp_servers.is_empty() {
        return None;
    }
    let shape = Shape {
        permissions: callbacks.permissions.is_some(),
        hooks: callbacks.hooks.as_ref().map(|hooks| hooks.kinds()),
    };
    let options = serde_json::to_string(&spec.options).ok()?;
    Some((shape, format!("{shape:?} {options}")))
}

/// Records that `key` was asked for now; returns the agents of the sets that no longer fit.
fn ask_for(
    state: &mut State,
    key: &str,
    spec: &AgentSpec,
    shape: Shape,
    max_sets: usize,
) -> Vec<Ready> {
    let now = Instant::now();
    if let Some(wanted) = state.wanted.iter_mut().find(|w| w.key == key) {
        wanted.last_asked = now;
        return Vec::new();
    }
    state.wanted.push(Wanted {
        key: key.to_owned(),
        template: spec.clone(),
        shape,
        last_asked: now,
    });
    if state.wanted.len() <= max_sets {
        return Vec::new();
    }
    let Some(oldest) = state
        .wanted
        .iter()
        .enumerate()
        .min_by_key(|(_, w)| w.last_asked)
        .map(|(at, _)| at)
    else {
        return Vec::new();
    };
    let gone = state.wanted.remove(oldest).key;
    drain_where(&mut state.ready, |ready| ready.key == gone)
}

fn drain_where(ready: &mut Vec<Ready>, mut gone: impl FnMut(&Ready) -> bool) -> Vec<Ready> {
    let (dropped, kept) = std::mem::take(ready).into_iter().partition(|r| gone(r));
    *ready = kept;
    dropped
}

/// The callbacks a warm agent starts with: they answer for whichever session takes it.
struct Binding {
    shape: Shape,
    bound: OnceLock<AgentCallbacks>,
}

impl Binding {
    fn callbacks(self: &Arc<Self>) -> AgentCallbacks {
        AgentCallbacks {
            permissions: self
                .shape
                .permissions
                .then(|| Arc::clone(self) as Arc<dyn PermissionHandler>),
            hooks: self
                .shape
                .hooks
                .map(|_| Arc::clone(self) as Arc<dyn HookHandler>),
            mcp_servers: std::collections::BTreeMap::new(),
        }
    }

    fn bind(&self, callbacks: AgentCallbacks) {
        if self.bound.set(callbacks).is_err() {
            tracing::error!("a warm agent was taken twice");
        }
    }
}

const UNBOUND: &str = "no session has taken this agent yet";

#[async_trait]
impl PermissionHandler for Binding {
    async fn decide(&self, request: PermissionRequest) -> PermissionVerdict {
        match self.bound.get().and_then(|c| c.permissions.clone()) {
            Some(permissions) => permissions.decide(request).await,
            None => PermissionVerdict::Deny {
                message: UNBOUND.to_owned(),
                interrupt: true,
            },
        }
    }
}

#[async_trait]
impl HookHandler for Binding {
    async fn on_hook(&self, event: HookEvent) -> HookVerdict {
        match self.bound.get().and_then(|c| c.hooks.clone()) {
            Some(hooks) => hooks.on_hook(event).await,
            None => HookVerdict::Deny {
                reason: UNBOUND.to_owned(),
            },
        }
    }

    fn kinds(&self) -> &'static [HookKind] {
        self.shape.hooks.unwrap_or(&[])
    }
}

#[cfg(test)]
#[path = "warm_tests.rs"]
mod tests;
