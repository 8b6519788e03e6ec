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

/// How many agents the pool keeps warm, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct WarmPoolConfig {
    /// Warm agents at most, which is also how many option sets are kept warm; 0 turns the
    /// pool off. Each one holds a whole CLI, ≈ 200 MiB resident.
    pub max_agents: usize,
    /// An option set nobody asked for within this time is let go, with its agent.
    pub max_age: Duration,
}

impl Default for WarmPoolConfig {
    fn default() -> Self {
        Self {
            max_agents: 0,
            max_age: Duration::from_secs(600),
        }
    }
}

/// A warm agent handed to a session, and the working directory it runs in.
pub struct Taken {
    pub agent: Arc<dyn AgentSession>,
    pub working_directory: PathBuf,
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
    #[must_use]
    pub fn new(
        runner: Arc<dyn AgentRunner>,
        workspaces: Arc<dyn Workspaces>,
        ids: Arc<dyn IdSource>,
        config: WarmPoolConfig,
    ) -> Arc<Self> {
        Arc::new(Self {
            runner,
            workspaces,
            ids,
            config,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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
        })
    }

    /// Starts an agent for every wanted option set that has none ready or starting.
    fn refill(self: &Arc<Self>) {
        let to_start: Vec<(String, AgentSpec, Shape)> = {
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
                    starting.push(w.key.clone());
                    to_start.push((w.key.clone(), w.template.clone(), w.shape));
                }
            }
            to_start
        };
        for (key, template, shape) in to_start {
            let pool = Arc::downgrade(self);
            tokio::spawn(async move {
                if let Some(pool) = pool.upgrade() {
                    pool.start_one(key, template, shape).await;
                }
            });
        }
    }

    async fn start_one(&self, key: String, mut spec: AgentSpec, shape: Shape) {
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
                    });
                    None
                }
                Ok((agent, _)) => Some(Some(agent)),
                Err(err) => {
                    // Not again until someone asks: a set that cannot start must not spin.
                    tracing::warn!(error = %err, "cannot start a warm agent");
                    state.wanted.retain(|w| w.key != key);
                    Some(None)
                }
            }
        };
        if let Some(agent) = refused {
            if let Some(agent) = agent {
                let _ = agent.close().await;
            }
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
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use overseer_domain::{AgentOptions, ModelName};
    use overseer_ports::agent::{
        MockAgentRunner, MockAgentSession, MockHookHandler, MockPermissionHandler,
    };
    use overseer_ports::{MockWorkspaces, RandomIds};
    use serde_json::json;

    use super::*;

    /// What the fakes saw.
    #[derive(Default)]
    struct Seen {
        starts: Mutex<Vec<(AgentSpec, AgentCallbacks)>>,
        closes: AtomicUsize,
        discarded: Mutex<Vec<PathBuf>>,
    }

    fn pool(max_agents: usize, max_age: Duration) -> (Arc<WarmPool>, Arc<Seen>) {
        let seen = Arc::new(Seen::default());
        let mut runner = MockAgentRunner::new();
        let on_start = seen.clone();
        runner.expect_start().returning(move |spec, callbacks| {
            on_start.starts.lock().unwrap().push((spec, callbacks));
            let mut agent = MockAgentSession::new();
            agent.expect_has_exited().return_const(false);
            let on_close = on_start.clone();
            agent.expect_close().returning(move || {
                on_close.closes.fetch_add(1, Ordering::SeqCst);
                Ok(())
            });
            Ok(Arc::new(agent) as Arc<dyn AgentSession>)
        });
        let mut workspaces = MockWorkspaces::new();
        workspaces
            .expect_create()
            .returning(|id| Ok(PathBuf::from(format!("/work/active/{id}"))));
        let on_discard = seen.clone();
        workspaces.expect_discard().returning(move |dir| {
            on_discard.discarded.lock().unwrap().push(dir.to_path_buf());
            Ok(())
        });
        let pool = WarmPool::new(
            Arc::new(runner),
            Arc::new(workspaces),
            Arc::new(RandomIds),
            WarmPoolConfig {
                max_agents,
                max_age,
            },
        );
        (pool, seen)
    }

    fn spec(model: &str) -> AgentSpec {
        AgentSpec {
            working_directory: "/work/active/the-sessions-own".into(),
            options: AgentOptions {
                model: Some(ModelName::new(model).unwrap()),
                ..AgentOptions::default()
            },
            env: BTreeMap::new(),
            resume: None,
        }
    }

    fn callbacks(verdict: PermissionVerdict) -> AgentCallbacks {
        let mut permissions = MockPermissionHandler::new();
        permissions.expect_decide().return_const(verdict);
        let mut hooks = MockHookHandler::new();
        hooks
            .expect_kinds()
            .return_const(&[HookKind::PreToolUse][..]);
        hooks.expect_on_hook().return_const(HookVerdict::Continue);
        AgentCallbacks {
            permissions: Some(Arc::new(permissions)),
            hooks: Some(Arc::new(hooks)),
            mcp_servers: BTreeMap::new(),
        }
    }

    fn allow() -> AgentCallbacks {
        callbacks(PermissionVerdict::Allow {
            updated_input: None,
        })
    }

    async fn until(what: impl Fn() -> bool) {
        for _ in 0..1000 {
            if what() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("timed out");
    }

    fn request() -> PermissionRequest {
        PermissionRequest {
            tool_name: "Bash".to_owned(),
            input: json!({"command": "ls"}),
            tool_use_id: None,
            blocked_path: None,
        }
    }

    #[tokio::test]
    async fn the_next_run_with_the_same_options_takes_an_agent_started_in_its_own_directory() {
        let (pool, seen) = pool(2, Duration::from_secs(600));
        assert!(
            pool.take(&spec("opus"), &allow()).is_none(),
            "nothing is warm yet"
        );
        until(|| pool.ready_count() == 1).await;
        let (started, _) = seen.starts.lock().unwrap()[0].clone();
        assert_eq!(started.options, spec("opus").options);
        assert_ne!(started.working_directory, spec("opus").working_directory);

        let taken = pool.take(&spec("opus"), &allow()).expect("a warm agent");
        assert_eq!(taken.working_directory, started.working_directory);
        // The taken agent is replaced for the run after.
        until(|| pool.ready_count() == 1).await;
        assert_eq!(seen.starts.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn other_options_a_resume_or_other_callbacks_get_no_warm_agent() {
        let (pool, _) = pool(4, Duration::from_secs(600));
        pool.take(&spec("opus"), &allow());
        until(|| pool.ready_count() == 1).await;
        assert!(pool.take(&spec("sonnet"), &allow()).is_none());
        let mut resumed = spec("opus");
        resumed.resume = Some("cli-session".to_owned());
        assert!(pool.take(&resumed, &allow()).is_none());
        let no_hooks = AgentCallbacks {
            hooks: None,
            ..allow()
        };
        assert!(pool.take(&spec("opus"), &no_hooks).is_none());
        assert!(pool.take(&spec("opus"), &allow()).is_some());
    }

    #[tokio::test]
    async fn the_agents_callbacks_answer_for_the_session_that_took_it_and_refuse_before() {
        let (pool, seen) = pool(1, Duration::from_secs(600));
        pool.take(&spec("opus"), &allow());
        until(|| pool.ready_count() == 1).await;
        let (_, registered) = seen.starts.lock().unwrap()[0].clone();
        let permissions = registered
            .permissions
            .expect("permission prompts registered");
        let hooks = registered.hooks.expect("hooks registered");
        assert_eq!(hooks.kinds(), &[HookKind::PreToolUse]);
        assert!(matches!(
            permissions.decide(request()).await,
            PermissionVerdict::Deny { .. }
        ));

        pool.take(&spec("opus"), &allow()).expect("a warm agent");
        assert_eq!(
            permissions.decide(request()).await,
            PermissionVerdict::Allow {
                updated_input: None
            }
        );
    }

    #[tokio::test]
    async fn the_pool_keeps_the_most_recent_option_sets_within_its_bound() {
        let (pool, seen) = pool(1, Duration::from_secs(600));
        pool.take(&spec("opus"), &allow());
        until(|| pool.ready_count() == 1).await;
        let (opus, _) = seen.starts.lock().unwrap()[0].clone();

        pool.take(&spec("sonnet"), &allow());
        until(|| seen.closes.load(Ordering::SeqCst) == 1 && pool.ready_count() == 1).await;
        assert_eq!(
            seen.discarded.lock().unwrap().clone(),
            [opus.working_directory]
        );
        assert!(pool.take(&spec("opus"), &allow()).is_none());
    }

    #[tokio::test]
    async fn an_option_set_nobody_asks_for_goes_cold() {
        let (pool, seen) = pool(2, Duration::from_secs(2));
        pool.take(&spec("opus"), &allow());
        until(|| pool.ready_count() == 1).await;
        assert_eq!(pool.expire().await, 0, "asked for just now");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(pool.expire().await, 1);
        assert_eq!(pool.ready_count(), 0);
        assert_eq!(seen.closes.load(Ordering::SeqCst), 1);
        assert_eq!(seen.discarded.lock().unwrap().len(), 1);
        assert!(pool.take(&spec("opus"), &allow()).is_none(), "cold again");
    }

    #[tokio::test]
    async fn a_pool_of_size_zero_starts_nothing() {
        let (pool, seen) = pool(0, Duration::from_secs(600));
        assert!(pool.take(&spec("opus"), &allow()).is_none());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(seen.starts.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn after_shutdown_nothing_is_kept_or_started() {
        let (pool, seen) = pool(2, Duration::from_secs(600));
        pool.take(&spec("opus"), &allow());
        until(|| pool.ready_count() == 1).await;
        pool.close_all().await;
        assert_eq!(seen.closes.load(Ordering::SeqCst), 1);
        assert!(pool.take(&spec("opus"), &allow()).is_none());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(seen.starts.lock().unwrap().len(), 1);
    }
}
