//! A bounded pool of live agents keyed by session.
//!
//! One CLI process costs about 310 MB, so the pool caps how many run at once. A start beyond
//! the cap waits, first come first served (tokio's semaphore is fair), until a slot frees. An
//! agent idle past the idle timeout is closed and remembered; the next message to its session
//! restarts it with `resume`, so the conversation goes on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use overseer_domain::SessionId;
use overseer_ports::agent::{AgentCallbacks, AgentError, AgentRunner, AgentSession, AgentSpec};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Bounds of the pool.
#[derive(Clone, Copy, Debug)]
pub struct PoolConfig {
    /// Live agent processes at most.
    pub max_live: usize,
    /// An agent with no turn in progress for this long is closed (and resumed on demand).
    pub idle_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_live: 4,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

struct Live {
    agent: Arc<dyn AgentSession>,
    /// Released when the entry goes, freeing a slot for the next waiter.
    _slot: OwnedSemaphorePermit,
    last_active: Instant,
    busy: bool,
}

/// What it takes to bring a session's agent back.
#[derive(Clone)]
struct Recipe {
    spec: AgentSpec,
    callbacks: AgentCallbacks,
}

#[derive(Default)]
struct Entries {
    live: HashMap<SessionId, Live>,
    /// Every session the pool knows, live or evicted.
    recipes: HashMap<SessionId, Recipe>,
}

/// Live agents by session, bounded, with idle eviction and transparent resume.
pub struct AgentPool {
    runner: Arc<dyn AgentRunner>,
    slots: Arc<Semaphore>,
    entries: Mutex<Entries>,
    config: PoolConfig,
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
    #[must_use]
    pub fn new(runner: Arc<dyn AgentRunner>, config: PoolConfig) -> Arc<Self> {
        Arc::new(Self {
            runner,
            slots: Arc::new(Semaphore::new(config.max_live.max(1))),
            entries: Mutex::new(Entries::default()),
            config,
        })
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// How many agents run now.
    #[must_use]
    pub fn live_count(&self) -> usize {
        self.entries().live.len()
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

    /// Starts an agent for `session`, waiting for a free slot if the pool is full.
    ///
    /// # Errors
    /// What the runner's `start` fails with; the slot is freed again.
    #[tracing::instrument(skip(self, spec, callbacks), fields(session = %session))]
    pub async fn start(
        &self,
        session: SessionId,
        spec: AgentSpec,
        callbacks: AgentCallbacks,
    ) -> Result<Arc<dyn AgentSession>, AgentError> {
        self.entries().recipes.insert(
            session,
            Recipe {
                spec: spec.clone(),
                callbacks: callbacks.clone(),
            },
        );
        self.launch(session, spec, callbacks).await
    }

    async fn launch(
        &self,
        session: SessionId,
        spec: AgentSpec,
        callbacks: AgentCallbacks,
    ) -> Result<Arc<dyn AgentSession>, AgentError> {
        let slot = self.slot().await?;
        let agent = self.runner.start(spec, callbacks).await?;
        self.insert_live(session, agent.clone(), slot).await?;
        Ok(agent)
    }

    /// Makes `agent`, started elsewhere with `spec` and `callbacks` (a warm agent), the live
    /// agent of `session`, as if [`AgentPool::start`] had started it. Waits for a free slot.
    ///
    /// # Errors
    /// [`AgentError::Closed`] if the pool is shutting down.
    pub async fn adopt(
        &self,
        session: SessionId,
        spec: AgentSpec,
        callbacks: AgentCallbacks,
        agent: Arc<dyn AgentSession>,
    ) -> Result<(), AgentError> {
        self.entries()
            .recipes
            .insert(session, Recipe { spec, callbacks });
        let slot = self.slot().await?;
        self.insert_live(session, agent, slot).await
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit, AgentError> {
        Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| AgentError::Closed)
    }

    async fn insert_live(
        &self,
        session: SessionId,
        agent: Arc<dyn AgentSession>,
        slot: OwnedSemaphorePermit,
    ) -> Result<(), AgentError> {
        let replaced = self.entries().live.insert(
            session,
            Live {
                agent,
                _slot: slot,
                last_active: Instant::now(),
                busy: false,
            },
        );
        if let Some(old) = replaced {
            old.agent.close().await?;
        }
        Ok(())
    }

    /// Sends a message to `session`'s agent, restarting it with `resume` if it was evicted, and
    /// returns the agent to read the answer from. The session counts as busy until
    /// [`AgentPool::turn_finished`].
    ///
    /// # Errors
    /// [`AgentError::InvalidRequest`] for a session the pool never started; what starting or
    /// sending fails with.
    pub async fn send_message(
        &self,
        session: SessionId,
        text: &str,
    ) -> Result<Arc<dyn AgentSession>, AgentError> {
        let agent = match self.mark_busy(session) {
            Some(agent) => agent,
            None => {
                let recipe = self.entries().recipes.get(&session).cloned();
                let Some(Recipe {
                    mut spec,
                    callbacks,
                }) = recipe
                else {
                    return Err(AgentError::InvalidRequest(format!(
                        "no agent for session {session}"
                    )));
                };
                spec.resume = spec.resume.or_else(|| self.remembered_resume_id(session));
                let agent = self.launch(session, spec, callbacks).await?;
                self.mark_busy(session);
                agent
            }
        };
        agent.send_message(text).await?;
        Ok(agent)
    }

    fn remembered_resume_id(&self, session: SessionId) -> Option<String> {
        self.entries()
            .recipes
            .get(&session)
            .and_then(|r| r.spec.resume.clone())
    }

    fn mark_busy(&self, session: SessionId) -> Option<Arc<dyn AgentSession>> {
        let mut entries = self.entries();
        let live = entries.live.get_mut(&session)?;
        live.busy = true;
        live.last_active = Instant::now();
        Some(live.agent.clone())
    }

    /// Records that `session`'s turn ended: from now on its idle time counts.
    pub fn turn_finished(&self, session: SessionId) {
        if let Some(live) = self.entries().live.get_mut(&session) {
            live.busy = false;
            live.last_active = Instant::now();
        }
    }

    /// Closes agents idle past the idle timeout, keeping what is needed to resume them.
    /// Returns how many were closed.
    pub async fn evict_idle(&self) -> usize {
        let now = Instant::now();
        let evicted: Vec<(SessionId, Live)> = {
            let mut entries = self.entries();
            let idle: Vec<SessionId> = entries
                .live
                .iter()
                .filter(|(_, live)| {
                    !live.busy && now.duration_since(live.last_active) >= self.config.idle_timeout
                })
                .map(|(id, _)| *id)
                .collect();
            let mut evicted = Vec::new();
            for id in idle {
                if let Some(live) = entries.live.remove(&id) {
                    // Resume from the agent's own session id next time.
                    if let (Some(recipe), Some(agent_id)) =
                        (entries.recipes.get_mut(&id), live.agent.agent_session_id())
                    {
                        recipe.spec.resume = Some(agent_id);
                    }
                    evicted.push((id, live));
                }
            }
            evicted
        };
        let count = evicted.len();
        for (session, live) in evicted {
            tracing::debug!(session = %session, "evicting idle agent");
            let _ = live.agent.close().await;
        }
        count
    }

    /// Closes `session`'s agent, frees its slot and forgets it.
    pub async fn release(&self, session: SessionId) {
        let live = {
            let mut entries = self.entries();
            entries.recipes.remove(&session);
            entries.live.remove(&session)
        };
        if let Some(live) = live {
            let _ = live.agent.close().await;
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
                let _ = entry.agent.close().await;
                drop(entry);
            });
        }
        while closing.join_next().await.is_some() {}
    }

    /// Runs [`AgentPool::evict_idle`] every `every` while the pool exists.
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
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use overseer_domain::AgentOptions;
    use overseer_ports::agent::{MockAgentRunner, MockAgentSession};
    use uuid::Uuid;

    use super::*;

    fn spec() -> AgentSpec {
        AgentSpec {
            working_directory: "/tmp".into(),
            options: AgentOptions::default(),
            env: BTreeMap::new(),
            resume: None,
        }
    }

    fn session_id(n: u128) -> SessionId {
        SessionId::from_uuid(Uuid::from_u128(n))
    }

    /// An agent that accepts messages, reports `cli-<n>` as its id, and counts closes.
    fn agent(n: usize, closes: Arc<AtomicUsize>) -> Arc<dyn AgentSession> {
        let mut agent = MockAgentSession::new();
        agent.expect_send_message().returning(|_| Ok(()));
        agent
            .expect_agent_session_id()
            .returning(move || Some(format!("cli-{n}")));
        agent.expect_close().returning(move || {
            closes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        Arc::new(agent)
    }

    fn runner(
        starts: Arc<Mutex<Vec<AgentSpec>>>,
        closes: Arc<AtomicUsize>,
    ) -> Arc<dyn AgentRunner> {
        let mut runner = MockAgentRunner::new();
        runner.expect_start().returning(move |spec, _| {
            let mut starts = starts.lock().unwrap();
            starts.push(spec);
            Ok(agent(starts.len(), closes.clone()))
        });
        Arc::new(runner)
    }

    #[tokio::test]
    async fn a_start_beyond_the_bound_waits_for_a_free_slot() {
        let starts = Arc::new(Mutex::new(Vec::new()));
        let closes = Arc::new(AtomicUsize::new(0));
        let config = PoolConfig {
            max_live: 2,
            idle_timeout: Duration::from_secs(60),
        };
        let pool = AgentPool::new(runner(starts.clone(), closes.clone()), config);
        pool.start(session_id(1), spec(), AgentCallbacks::default())
            .await
            .unwrap();
        pool.start(session_id(2), spec(), AgentCallbacks::default())
            .await
            .unwrap();

        let waiting = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.start(session_id(3), spec(), AgentCallbacks::default())
                    .await
                    .map(drop)
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "the third start must wait");
        assert_eq!(pool.live_count(), 2);

        pool.release(session_id(1)).await;
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(pool.live_count(), 2);
        assert!(pool.is_live(session_id(3)));
        assert_eq!(closes.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_evicted_session_resumes_on_its_next_message() {
        let starts = Arc::new(Mutex::new(Vec::new()));
        let closes = Arc::new(AtomicUsize::new(0));
        let config = PoolConfig {
            max_live: 2,
            idle_timeout: Duration::ZERO,
        };
        let pool = AgentPool::new(runner(starts.clone(), closes.clone()), config);
        let id = session_id(1);
        pool.start(id, spec(), AgentCallbacks::default())
            .await
            .unwrap();
        pool.send_message(id, "first").await.unwrap();

        assert_eq!(
            pool.evict_idle().await,
            0,
            "a session mid-turn is never evicted"
        );
        pool.turn_finished(id);
        assert_eq!(pool.evict_idle().await, 1);
        assert!(!pool.is_live(id));
        assert_eq!(closes.load(Ordering::SeqCst), 1);

        pool.send_message(id, "second").await.unwrap();
        assert!(pool.is_live(id));
        let starts = starts.lock().unwrap();
        assert_eq!(starts.len(), 2);
        assert_eq!(starts[0].resume, None);
        assert_eq!(
            starts[1].resume.as_deref(),
            Some("cli-1"),
            "restarted with the agent's own id"
        );
    }

    #[tokio::test]
    async fn a_message_to_an_unknown_session_is_refused() {
        let pool = AgentPool::new(
            runner(Arc::default(), Arc::default()),
            PoolConfig::default(),
        );
        let err = pool.send_message(session_id(9), "hi").await.err().unwrap();
        assert!(matches!(err, AgentError::InvalidRequest(_)), "{err}");
    }

    #[tokio::test]
    async fn a_failed_start_frees_its_slot() {
        let mut failing = MockAgentRunner::new();
        failing
            .expect_start()
            .returning(|_, _| Err(AgentError::Spawn("no binary".into())));
        let pool = AgentPool::new(
            Arc::new(failing),
            PoolConfig {
                max_live: 1,
                idle_timeout: Duration::ZERO,
            },
        );
        for _ in 0..3 {
            let started = tokio::time::timeout(
                Duration::from_secs(1),
                pool.start(session_id(1), spec(), AgentCallbacks::default()),
            )
            .await
            .expect("a failed start must not hold the only slot");
            assert!(started.is_err());
        }
    }
}
