//! Crash recovery by the queue worker: runs a lost node held are settled (re-queued if their
//! agent had not started, else failed "node lost" with their sessions and pending approvals),
//! whether the node restarts under its name or another node sees its leases expire.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use overseer_domain::{
    Approval, ApprovalId, ApprovalStatus, ExecutionStatus, SessionStatus, TaskExecution,
};
use overseer_ports::agent::MockAgentRunner;
use overseer_ports::repositories::ClaimLimits;
use overseer_ports::{MockReportFiles, MockWorkspaces, Repositories, Scope};
use overseer_services::InProcessBroadcaster;
use overseer_services::QueueConfig;
use overseer_services::{Adapters, Deps, Services, ServicesConfig};
use overseer_testkit::{MemoryStore, fixtures};
use serde_json::json;
use time::OffsetDateTime;

/// What a node named `lost-node` left behind: one run mid-agent (with a session waiting on an
/// approval), one claimed but not started.
struct Leftovers {
    started: TaskExecution,
    unstarted: TaskExecution,
    approval: ApprovalId,
}

async fn leftovers(repos: &Repositories, lease_until: OffsetDateTime) -> Leftovers {
    let now = OffsetDateTime::now_utc();
    let owner = fixtures::user("ops@example.com");
    repos.users.insert(&owner).await.unwrap();
    let task = fixtures::task(owner.id, "health", now);
    repos.tasks.insert(&task).await.unwrap();
    for _ in 0..2 {
        repos
            .executions
            .insert(&fixtures::execution(&task, now))
            .await
            .unwrap();
    }
    let wide = ClaimLimits {
        global: 10,
        per_user: 10,
    };
    let claim = || {
        repos
            .executions
            .claim_next("lost-node", wide, now, lease_until)
    };
    let mut started = claim().await.unwrap().unwrap();
    let unstarted = claim().await.unwrap().unwrap();

    let mut session = fixtures::session(owner.id, now);
    repos.sessions.insert(&session).await.unwrap();
    for to in [
        SessionStatus::Connecting,
        SessionStatus::Active,
        SessionStatus::Processing,
    ] {
        let from = session.transition_to(to, now).unwrap();
        repos.sessions.update_status(&session, from).await.unwrap();
    }
    started.begin_agent(session.id, now).unwrap();
    repos
        .executions
        .update(&started, ExecutionStatus::Running)
        .await
        .unwrap();
    let approval = Approval::pending(
        ApprovalId::from_uuid(fixtures::id()),
        session.id,
        owner.id,
        Some("toolu_1".to_owned()),
        "Bash".to_owned(),
        json!({"command": "kubectl delete pod x"}),
        now,
        now + Duration::from_secs(3600),
    );
    repos.approvals.insert(&approval, &[]).await.unwrap();
    Leftovers {
        started,
        unstarted,
        approval: approval.id,
    }
}

/// Starts a node named `node` whose worker may not claim anything (so a re-queued run stays
/// visible as `pending`), with leases of `lease`.
fn start_node(repos: &Repositories, node: &str, lease: Duration) -> Services {
    let deps = Deps::system(repos.clone());
    let adapters = Adapters {
        deps,
        runner: Arc::new(MockAgentRunner::new()),
        workspaces: Arc::new(MockWorkspaces::new()),
        report_files: Arc::new(MockReportFiles::new()),
        report_renderer: Arc::new(overseer_reports::DocumentRenderer),
        calendar: Arc::new(overseer_calendar::CronCalendar),
        broadcaster: Arc::new(InProcessBroadcaster::default()),
        telemetry: Arc::new(overseer_ports::NoTelemetry),
        cluster: None,
    };
    let config = ServicesConfig {
        queue: QueueConfig {
            node_id: node.to_owned(),
            limits: ClaimLimits {
                global: 0,
                per_user: 0,
            },
            lease,
            poll: Duration::from_millis(50),
            ..QueueConfig::default()
        },
        ..ServicesConfig::default()
    };
    let services = Services::build(adapters, config);
    // Recovery is the worker's: its loops end with the services.
    drop(services.start());
    services
}

/// Waits until the started run is settled, then checks everything the lost node left.
async fn assert_settled(repos: &Repositories, left: &Leftovers) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let failed = loop {
        let run = repos
            .executions
            .get(left.started.id, Scope::Admin)
            .await
            .unwrap();
        if run.status() != ExecutionStatus::Running {
            break run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lost run was never settled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(failed.status(), ExecutionStatus::Failed);
    assert_eq!(failed.error_message.as_deref(), Some("node lost"));
    let requeued = repos
        .executions
        .get(left.unstarted.id, Scope::Admin)
        .await
        .unwrap();
    assert_eq!(requeued.status(), ExecutionStatus::Pending);
    assert!(requeued.lease.is_none());
    let session = repos
        .sessions
        .get(failed.session_id.unwrap(), Scope::Admin)
        .await
        .unwrap();
    assert_eq!(session.status(), SessionStatus::Failed);
    let approval = repos
        .approvals
        .get(left.approval, Scope::Admin)
        .await
        .unwrap();
    assert_eq!(approval.status(), ApprovalStatus::Expired);
}

#[tokio::test]
async fn a_restarted_node_settles_its_previous_lives_runs_at_once() {
    let repos = MemoryStore::new().repositories();
    // Leases far from expiry: only the restart under the same name can settle them.
    let far = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    let left = leftovers(&repos, far).await;
    let _node = start_node(&repos, "lost-node", Duration::from_secs(30));
    assert_settled(&repos, &left).await;
}

#[tokio::test]
async fn another_node_settles_expired_leases() {
    let repos = MemoryStore::new().repositories();
    let soon = OffsetDateTime::now_utc() + Duration::from_millis(200);
    let left = leftovers(&repos, soon).await;
    let _other = start_node(&repos, "other-node", Duration::from_millis(300));
    assert_settled(&repos, &left).await;
}

#[tokio::test]
async fn a_live_lease_of_another_node_is_left_alone() {
    let repos = MemoryStore::new().repositories();
    let far = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    let left = leftovers(&repos, far).await;
    let _other = start_node(&repos, "other-node", Duration::from_millis(300));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let run = repos
        .executions
        .get(left.started.id, Scope::Admin)
        .await
        .unwrap();
    assert_eq!(run.status(), ExecutionStatus::Running);
}

/// A session of `owner` hosted by `host`, moved along `path` from `created`.
async fn hosted_session(
    repos: &Repositories,
    owner: overseer_domain::UserId,
    host: &str,
    path: &[SessionStatus],
) -> overseer_domain::SessionId {
    let now = OffsetDateTime::now_utc();
    let mut session = fixtures::session(owner, now);
    session.host_node = Some(host.to_owned());
    repos.sessions.insert(&session).await.unwrap();
    for to in path {
        let from = session.transition_to(*to, now).unwrap();
        repos.sessions.update_status(&session, from).await.unwrap();
    }
    session.id
}

/// Regression: the settling runs while the node already serves (it flaked the two-node tests
/// under load, failing a turn of the new life with "node lost"). A turn changed after the
/// node's start is its own, not its previous life's.
#[tokio::test]
async fn a_restart_settles_only_turns_from_before_it_started() {
    let repos = MemoryStore::new().repositories();
    let owner = fixtures::user("life@example.com");
    repos.users.insert(&owner).await.unwrap();
    let to_processing = [
        SessionStatus::Connecting,
        SessionStatus::Active,
        SessionStatus::Processing,
    ];
    let previous_life = hosted_session(&repos, owner.id, "node-x", &to_processing).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let started = OffsetDateTime::now_utc();
    // The node starts (its own settling runs in the background), then begins a turn.
    let services = start_node(&repos, "node-x", Duration::from_secs(30));
    tokio::time::sleep(Duration::from_millis(5)).await;
    let this_life = hosted_session(&repos, owner.id, "node-x", &to_processing).await;

    services.sessions.settle_own_restart(started).await;
    let status = |id| {
        let repos = repos.clone();
        async move { repos.sessions.get(id, Scope::Admin).await.unwrap().status() }
    };
    assert_eq!(status(previous_life).await, SessionStatus::Failed);
    assert_eq!(status(this_life).await, SessionStatus::Processing);
}

#[tokio::test]
async fn a_restarted_node_fails_the_interactive_turns_it_had_in_flight() {
    let repos = MemoryStore::new().repositories();
    let owner = fixtures::user("chat@example.com");
    repos.users.insert(&owner).await.unwrap();
    let to_processing = [
        SessionStatus::Connecting,
        SessionStatus::Active,
        SessionStatus::Processing,
    ];
    let mid_turn = hosted_session(&repos, owner.id, "lost-node", &to_processing).await;
    let idle = hosted_session(&repos, owner.id, "lost-node", &to_processing[..2]).await;
    let elsewhere = hosted_session(&repos, owner.id, "other-node", &to_processing).await;

    let _node = start_node(&repos, "lost-node", Duration::from_secs(30));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = |id| {
        let repos = repos.clone();
        async move { repos.sessions.get(id, Scope::Admin).await.unwrap() }
    };
    while status(mid_turn).await.status() != SessionStatus::Failed {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the turn of the previous life was never settled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        status(mid_turn).await.error_message.as_deref(),
        Some("node lost")
    );
    // An idle session resumes with its next message; another node's turn is not ours.
    assert_eq!(status(idle).await.status(), SessionStatus::Active);
    assert_eq!(status(elsewhere).await.status(), SessionStatus::Processing);
}
