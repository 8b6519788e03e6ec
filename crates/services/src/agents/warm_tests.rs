//! Unit tests of the warm pool, with mocked runner and workspaces.

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
        AgentSlots::new(8),
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
        fork: false,
        resume_at: None,
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
