//! Unit tests of the agent pool with a mocked runner: who is evicted, who waits, in what order.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use overseer_domain::AgentOptions;
use overseer_ports::agent::{
    MockAgentRunner, MockAgentSession, PermissionHandler, PermissionRequest, PermissionVerdict,
};
use overseer_ports::{MockWorkspaces, RandomIds};
use tokio::sync::Notify;
use uuid::Uuid;

use super::*;
use crate::agents::warm::WarmPoolConfig;

/// What happened, in order: `start <n>` and `close <n>` (n counts starts from 1).
#[derive(Default)]
struct Log {
    events: Mutex<Vec<String>>,
    starts: Mutex<Vec<(AgentSpec, AgentCallbacks)>>,
}

impl Log {
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    fn starts(&self) -> usize {
        self.starts.lock().unwrap().len()
    }
}

fn spec() -> AgentSpec {
    AgentSpec {
        working_directory: "/tmp".into(),
        options: AgentOptions::default(),
        env: BTreeMap::new(),
        resume: None,
        fork: false,
        resume_at: None,
    }
}

fn session_id(n: u128) -> SessionId {
    SessionId::from_uuid(Uuid::from_u128(n))
}

/// An agent that accepts messages, reports `cli-<n>` as its id, and logs its close.
fn agent(n: usize, log: Arc<Log>) -> Arc<dyn AgentSession> {
    let mut agent = MockAgentSession::new();
    agent.expect_send_message().returning(|_| Ok(()));
    agent.expect_interrupt().returning(|| Ok(()));
    agent.expect_has_exited().return_const(false);
    agent
        .expect_agent_session_id()
        .returning(move || Some(format!("cli-{n}")));
    agent.expect_close().returning(move || {
        log.events.lock().unwrap().push(format!("close {n}"));
        Ok(())
    });
    Arc::new(agent)
}

fn runner(log: Arc<Log>) -> Arc<dyn AgentRunner> {
    let mut runner = MockAgentRunner::new();
    runner.expect_start().returning(move |spec, callbacks| {
        let n = {
            let mut starts = log.starts.lock().unwrap();
            starts.push((spec, callbacks));
            starts.len()
        };
        log.events.lock().unwrap().push(format!("start {n}"));
        Ok(agent(n, log.clone()))
    });
    Arc::new(runner)
}

fn pool(max_live: usize, log: &Arc<Log>) -> Arc<AgentPool> {
    pool_with(
        max_live,
        Duration::from_secs(600),
        Duration::from_secs(5),
        log,
    )
}

fn pool_with(
    max_live: usize,
    idle_timeout: Duration,
    start_timeout: Duration,
    log: &Arc<Log>,
) -> Arc<AgentPool> {
    AgentPool::new(
        runner(log.clone()),
        PoolConfig {
            max_live,
            idle_timeout,
            start_timeout,
        },
    )
}

/// Starts `session`'s agent and leaves it in a turn.
async fn try_start_busy(
    pool: &AgentPool,
    session: SessionId,
    callbacks: AgentCallbacks,
) -> Result<(), PoolError> {
    let activity = Activity::default();
    let callbacks = activity.watch(callbacks);
    let slot = pool.reserve(session, |_| {}).await?;
    pool.launch(session, slot, spec(), callbacks, activity)
        .await?;
    Ok(())
}

async fn start_busy(pool: &AgentPool, session: SessionId, callbacks: AgentCallbacks) {
    try_start_busy(pool, session, callbacks).await.unwrap();
}

/// A person who answers a permission request only when told to.
struct SlowPerson {
    asked: Arc<Notify>,
    answer: Arc<Notify>,
}

#[async_trait]
impl PermissionHandler for SlowPerson {
    async fn decide(&self, _: PermissionRequest) -> PermissionVerdict {
        self.asked.notify_one();
        self.answer.notified().await;
        PermissionVerdict::Allow {
            updated_input: None,
        }
    }
}

fn request() -> PermissionRequest {
    PermissionRequest {
        tool_name: "Bash".into(),
        input: serde_json::json!({"command": "rm -rf build"}),
        tool_use_id: None,
        blocked_path: None,
    }
}

#[tokio::test]
async fn with_every_slot_idle_a_start_closes_the_least_recently_used_agent_first() {
    let log = Arc::new(Log::default());
    let pool = pool(2, &log);
    for n in 1..=2 {
        start_busy(&pool, session_id(n), AgentCallbacks::default()).await;
    }
    // Session 2 finished its turn first, so session 1 was used more recently.
    pool.turn_finished(session_id(2)).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    pool.turn_finished(session_id(1)).await;

    let started = tokio::time::timeout(
        Duration::from_secs(1),
        pool.start(session_id(3), spec(), AgentCallbacks::default()),
    )
    .await
    .expect("a start must not wait while an agent is idle");
    started.unwrap();

    assert_eq!(log.events(), ["start 1", "start 2", "close 2", "start 3"]);
    assert!(pool.is_live(session_id(1)));
    assert!(!pool.is_live(session_id(2)));
    assert_eq!(pool.live_count(), 2);
}

#[tokio::test]
async fn with_every_agent_mid_turn_starts_wait_and_are_served_first_come_first_served() {
    let log = Arc::new(Log::default());
    let pool = pool(2, &log);
    for n in 1..=2 {
        start_busy(&pool, session_id(n), AgentCallbacks::default()).await;
    }
    let mut waiting = Vec::new();
    for n in [3, 4] {
        let queued = pool.clone();
        waiting.push(tokio::spawn(async move {
            try_start_busy(&queued, session_id(n), AgentCallbacks::default()).await
        }));
        // Queue in a known order.
        while pool.state(session_id(n)).is_none() {
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(
        pool.state(session_id(3)),
        Some(AgentState::Waiting { position: 1 })
    );
    assert_eq!(
        pool.state(session_id(4)),
        Some(AgentState::Waiting { position: 2 })
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        log.starts(),
        2,
        "nobody starts while every agent is mid-turn"
    );

    // A turn ends: its agent hibernates and the first waiter gets the slot.
    pool.turn_finished(session_id(2)).await;
    let second = waiting.pop().unwrap();
    waiting.pop().unwrap().await.unwrap().unwrap();
    assert!(pool.is_live(session_id(3)));
    assert!(!pool.is_live(session_id(4)), "the later waiter still waits");
    assert_eq!(
        pool.state(session_id(4)),
        Some(AgentState::Waiting { position: 1 })
    );

    pool.turn_finished(session_id(1)).await;
    second.await.unwrap().unwrap();
    assert_eq!(
        log.events(),
        [
            "start 1", "start 2", "close 2", "start 3", "close 1", "start 4"
        ]
    );
}

#[tokio::test]
async fn an_agent_waiting_on_an_approval_is_never_evicted() {
    let log = Arc::new(Log::default());
    let pool = pool(2, &log);
    let (asked, answer) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    start_busy(
        &pool,
        session_id(1),
        AgentCallbacks {
            permissions: Some(Arc::new(SlowPerson {
                asked: asked.clone(),
                answer: answer.clone(),
            })),
            ..AgentCallbacks::default()
        },
    )
    .await;
    start_busy(&pool, session_id(2), AgentCallbacks::default()).await;
    // Session 1 asks for an approval; its turn counts as over (the least recently used).
    let registered = log.starts.lock().unwrap()[0].1.permissions.clone().unwrap();
    let asking = tokio::spawn(async move { registered.decide(request()).await });
    asked.notified().await;
    pool.turn_finished(session_id(1)).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    pool.turn_finished(session_id(2)).await;

    pool.start(session_id(3), spec(), AgentCallbacks::default())
        .await
        .unwrap();
    assert!(
        pool.is_live(session_id(1)),
        "the agent with an approval stays"
    );
    assert!(!pool.is_live(session_id(2)));

    // Now only the asking agent and a busy one: the next start waits, even past the
    // asking agent's idle time, until the approval is answered.
    pool.checkout(session_id(3)).unwrap();
    let fourth = {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.start(session_id(4), spec(), AgentCallbacks::default())
                .await
                .map(drop)
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(pool.evict_idle().await, 0);
    assert!(!fourth.is_finished());

    answer.notify_one();
    asking.await.unwrap();
    // The evictor serves the queue once the approval is answered.
    assert_eq!(pool.evict_idle().await, 1);
    fourth.await.unwrap().unwrap();
    assert!(!pool.is_live(session_id(1)));
    assert!(pool.is_live(session_id(4)));
}

#[tokio::test]
async fn a_start_that_waits_past_the_start_timeout_fails_naming_the_limit() {
    let log = Arc::new(Log::default());
    let pool = pool_with(
        1,
        Duration::from_secs(600),
        Duration::from_millis(100),
        &log,
    );
    start_busy(&pool, session_id(1), AgentCallbacks::default()).await;
    let err = pool
        .start(session_id(2), spec(), AgentCallbacks::default())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, PoolError::StartTimeout { seconds: 1 }),
        "{err}"
    );
    assert!(
        err.to_string().contains("agent_start_timeout_seconds"),
        "{err}"
    );
    assert_eq!(pool.state(session_id(2)), None, "it left the queue");
    assert_eq!(pool.waiting_count(), 0);
    // The slot is not lost: once the turn ends, a start gets it.
    pool.turn_finished(session_id(1)).await;
    pool.start(session_id(2), spec(), AgentCallbacks::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_hibernated_session_resumes_on_its_next_message_with_its_agents_id() {
    let log = Arc::new(Log::default());
    let pool = pool_with(2, Duration::ZERO, Duration::from_secs(5), &log);
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
    pool.turn_finished(id).await;
    assert_eq!(pool.evict_idle().await, 1);
    assert!(!pool.is_live(id));

    pool.send_message(id, "second").await.unwrap();
    assert!(pool.is_live(id));
    let starts = log.starts.lock().unwrap();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[0].0.resume, None);
    assert_eq!(
        starts[1].0.resume.as_deref(),
        Some("cli-1"),
        "restarted with the agent's own id"
    );
}

#[tokio::test]
async fn two_messages_racing_to_a_hibernated_session_start_one_agent() {
    let log = Arc::new(Log::default());
    let pool = pool_with(4, Duration::ZERO, Duration::from_secs(5), &log);
    let id = session_id(1);
    pool.start(id, spec(), AgentCallbacks::default())
        .await
        .unwrap();
    assert_eq!(pool.evict_idle().await, 1);

    let (a, b) = tokio::join!(pool.send_message(id, "one"), pool.send_message(id, "two"));
    a.unwrap();
    b.unwrap();
    assert_eq!(
        log.starts(),
        2,
        "one start, then one resume: {:?}",
        log.events()
    );
    assert_eq!(pool.live_count(), 1);
}

#[tokio::test]
async fn a_message_to_an_unknown_session_is_refused() {
    let pool = pool(2, &Arc::new(Log::default()));
    let err = pool.send_message(session_id(9), "hi").await.err().unwrap();
    assert!(
        matches!(err, PoolError::Agent(AgentError::InvalidRequest(_))),
        "{err}"
    );
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
            start_timeout: Duration::from_millis(200),
        },
    );
    for _ in 0..3 {
        let started = pool
            .start(session_id(1), spec(), AgentCallbacks::default())
            .await;
        assert!(
            matches!(started, Err(PoolError::Agent(AgentError::Spawn(_)))),
            "a failed start must not hold the only slot"
        );
    }
}

#[tokio::test]
async fn warm_agents_hold_slots_of_the_bound_and_are_spent_before_an_idle_session() {
    let log = Arc::new(Log::default());
    let mut workspaces = MockWorkspaces::new();
    workspaces
        .expect_create()
        .returning(|id| Ok(PathBuf::from(format!("/work/active/{id}"))));
    workspaces.expect_discard().returning(|_| Ok(()));
    let config = PoolConfig {
        max_live: 2,
        idle_timeout: Duration::from_secs(600),
        start_timeout: Duration::from_secs(5),
    };
    let warm = WarmPool::new(
        runner(log.clone()),
        Arc::new(workspaces),
        Arc::new(RandomIds),
        WarmPoolConfig {
            max_agents: 1,
            max_age: Duration::from_secs(600),
        },
        AgentSlots::new(config.max_live),
    );
    let pool = AgentPool::with_warm(
        runner(log.clone()),
        config,
        warm.clone(),
        Arc::new(overseer_ports::NoTelemetry),
    );
    pool.start(session_id(1), spec(), AgentCallbacks::default())
        .await
        .unwrap();
    // Asking for a set warms one agent, into the last free slot.
    assert!(warm.take(&spec(), &AgentCallbacks::default()).is_none());
    for _ in 0..1000 {
        if warm.ready_count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(warm.ready_count(), 1);
    assert_eq!(warm.slots().held(), 2, "the warm agent holds a slot");

    // A new session needs a slot: the warm agent goes, the idle session stays.
    let mut other = spec();
    other.working_directory = "/elsewhere".into();
    pool.start(session_id(2), other, AgentCallbacks::default())
        .await
        .unwrap();
    assert_eq!(warm.ready_count(), 0);
    assert!(pool.is_live(session_id(1)));
    assert!(pool.is_live(session_id(2)));
    assert_eq!(warm.slots().held(), 2);
    assert_eq!(log.events(), ["start 1", "start 2", "close 2", "start 3"]);
}
