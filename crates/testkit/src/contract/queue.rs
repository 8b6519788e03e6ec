use std::collections::HashSet;
use std::sync::Arc;

use overseer_domain::{ExecutionStatus, TaskExecution, UserId};
use overseer_ports::repositories::{ClaimLimits, LostLeases};
use overseer_ports::{Repositories, Scope};
use time::OffsetDateTime;
use tokio::sync::Barrier;

use super::support::owner;
use crate::fixtures::{self, at};

/// Stores a task of `user` and `count` pending runs of it, created at `from`, `from + 1` …
async fn queued(repos: &Repositories, user: UserId, count: i64, from: i64) -> Vec<TaskExecution> {
    let task = fixtures::task(user, "queued", at(0));
    repos.tasks.insert(&task).await.unwrap();
    let mut runs = Vec::new();
    for i in 0..count {
        let run = fixtures::execution(&task, at(from + i));
        repos.executions.insert(&run).await.unwrap();
        runs.push(run);
    }
    runs
}

const WIDE: ClaimLimits = ClaimLimits {
    global: 100,
    per_user: 100,
};

pub async fn queue_claims_fairly_within_limits(repos: &Repositories) {
    let x = owner(repos, "x@example.com").await;
    let y = owner(repos, "y@example.com").await;
    let xs = queued(repos, x, 5, 1).await;
    let ys = queued(repos, y, 1, 10).await;
    let limits = ClaimLimits {
        global: 2,
        per_user: 2,
    };
    let claim = || {
        repos
            .executions
            .claim_next("node-a", limits, at(20), at(80))
    };

    let first = claim().await.unwrap().unwrap();
    assert_eq!(first.id, xs[0].id, "the oldest run first");
    assert_eq!(first.status(), ExecutionStatus::Running);
    assert_eq!(first.lease.as_ref().unwrap().owner, "node-a");
    assert_eq!(first.lease.as_ref().unwrap().expires_at, at(80));
    assert_eq!(first.attempts, 1);
    let second = claim().await.unwrap().unwrap();
    assert_eq!(
        second.id, ys[0].id,
        "the user with fewer running runs goes before older runs"
    );
    assert!(claim().await.unwrap().is_none(), "the global limit holds");

    let mut done = second.clone();
    let from = done.complete(None, at(30)).unwrap();
    repos.executions.update(&done, from).await.unwrap();
    assert!(done.lease.is_none(), "an ended run holds no lease");
    assert_eq!(claim().await.unwrap().unwrap().id, xs[1].id);

    // Per user: with one run each at most, X's next run waits while X has one running.
    let z = owner(repos, "z@example.com").await;
    let zs = queued(repos, z, 1, 40).await;
    let per_user = ClaimLimits {
        global: 100,
        per_user: 1,
    };
    let mut finished = repos.executions.get(xs[1].id, Scope::Admin).await.unwrap();
    let from = finished.complete(None, at(41)).unwrap();
    repos.executions.update(&finished, from).await.unwrap();
    assert_eq!(
        repos
            .executions
            .claim_next("node-a", per_user, at(42), at(90))
            .await
            .unwrap()
            .unwrap()
            .id,
        zs[0].id
    );
    assert!(
        repos
            .executions
            .claim_next("node-a", per_user, at(43), at(90))
            .await
            .unwrap()
            .is_none(),
        "x is at its limit"
    );
}

pub async fn queue_never_hands_a_run_to_two_claimers(repos: &Repositories) {
    let x = owner(repos, "x@example.com").await;
    let y = owner(repos, "y@example.com").await;
    let mut runs = queued(repos, x, 6, 1).await;
    runs.extend(queued(repos, y, 6, 1).await);
    let barrier = Arc::new(Barrier::new(16));
    let mut handles = Vec::new();
    for n in 0..16 {
        let (repos, barrier) = (repos.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            repos
                .executions
                .claim_next(&format!("node-{}", n % 2), WIDE, at(20), at(80))
                .await
                .unwrap()
        }));
    }
    let mut claimed = HashSet::new();
    for handle in handles {
        if let Some(run) = handle.await.unwrap() {
            assert!(claimed.insert(run.id), "{} was claimed twice", run.id);
        }
    }
    assert_eq!(claimed.len(), 12, "every pending run claimed exactly once");
}

pub async fn queue_global_limit_holds_under_racing_claims(repos: &Repositories) {
    let x = owner(repos, "x@example.com").await;
    let y = owner(repos, "y@example.com").await;
    queued(repos, x, 5, 1).await;
    queued(repos, y, 5, 1).await;
    let limits = ClaimLimits {
        global: 3,
        per_user: 10,
    };
    let barrier = Arc::new(Barrier::new(8));
    let mut handles = Vec::new();
    for n in 0..8 {
        let (repos, barrier) = (repos.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            repos
                .executions
                .claim_next(&format!("node-{n}"), limits, at(20), at(80))
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for handle in handles {
        wins += usize::from(handle.await.unwrap().is_some());
    }
    assert_eq!(wins, 3, "exactly the global limit, across racing nodes");
}

pub async fn queue_heartbeats_extend_only_own_leases(repos: &Repositories) {
    let x = owner(repos, "x@example.com").await;
    queued(repos, x, 1, 1).await;
    let run = repos
        .executions
        .claim_next("node-a", WIDE, at(10), at(40))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        repos
            .executions
            .heartbeat("node-b", &[run.id], at(99))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        repos
            .executions
            .heartbeat("node-a", &[run.id], at(70))
            .await
            .unwrap(),
        1
    );
    let stored = repos.executions.get(run.id, Scope::Admin).await.unwrap();
    assert_eq!(stored.lease.unwrap().expires_at, at(70));
    assert_eq!(
        repos
            .executions
            .heartbeat("node-a", &[], at(70))
            .await
            .unwrap(),
        0
    );
}

/// Three queued runs: node-a claims two until `a_until` and starts the agent of the second;
/// node-b claims the third until `b_until`. Returns (unstarted, started, node-b's).
async fn two_nodes_running(
    repos: &Repositories,
    a_until: OffsetDateTime,
    b_until: OffsetDateTime,
) -> (TaskExecution, TaskExecution, TaskExecution) {
    let x = owner(repos, "x@example.com").await;
    queued(repos, x, 3, 1).await;
    let claim = |node: &'static str, until| async move {
        repos
            .executions
            .claim_next(node, WIDE, at(10), until)
            .await
            .unwrap()
            .unwrap()
    };
    let unstarted = claim("node-a", a_until).await;
    let mut started = claim("node-a", a_until).await;
    let other = claim("node-b", b_until).await;
    started.agent_started_at = Some(at(12));
    repos
        .executions
        .update(&started, ExecutionStatus::Running)
        .await
        .unwrap();
    (unstarted, started, other)
}

pub async fn queue_recovery_requeues_unstarted_and_fails_started_runs(repos: &Repositories) {
    let (unstarted, started, alive) = two_nodes_running(repos, at(40), at(90)).await;

    let nothing = repos
        .executions
        .recover_lost(LostLeases::Expired, at(30), "node lost")
        .await
        .unwrap();
    assert!(
        nothing.requeued.is_empty() && nothing.failed.is_empty(),
        "no lease has expired yet"
    );

    let recovered = repos
        .executions
        .recover_lost(LostLeases::Expired, at(41), "node lost")
        .await
        .unwrap();
    assert_eq!(recovered.requeued, vec![unstarted.id]);
    assert_eq!(recovered.failed.len(), 1);
    let failed = &recovered.failed[0];
    assert_eq!(failed.id, started.id);
    assert_eq!(failed.status(), ExecutionStatus::Failed);
    assert_eq!(failed.error_message.as_deref(), Some("node lost"));
    let requeued = repos
        .executions
        .get(unstarted.id, Scope::Admin)
        .await
        .unwrap();
    assert_eq!(requeued.status(), ExecutionStatus::Pending);
    assert!(requeued.lease.is_none());
    assert_eq!(
        repos
            .executions
            .get(alive.id, Scope::Admin)
            .await
            .unwrap()
            .status(),
        ExecutionStatus::Running,
        "a live lease is left alone"
    );
    // The re-queued run can be claimed again, counting the attempt.
    let again = repos
        .executions
        .claim_next("node-b", WIDE, at(42), at(95))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (unstarted.id, 2));
}

pub async fn queue_recovery_of_a_restarted_node_takes_every_lease_it_held(repos: &Repositories) {
    let (unstarted, started, other_node) = two_nodes_running(repos, at(400), at(400)).await;

    // Long before the leases expire, node-a restarts and settles its previous life's runs.
    let recovered = repos
        .executions
        .recover_lost(LostLeases::HeldBy("node-a".to_owned()), at(20), "node lost")
        .await
        .unwrap();
    assert_eq!(recovered.requeued, vec![unstarted.id]);
    assert_eq!(
        recovered.failed.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![started.id]
    );
    assert_eq!(
        repos
            .executions
            .get(other_node.id, Scope::Admin)
            .await
            .unwrap()
            .status(),
        ExecutionStatus::Running,
        "another node's runs are left alone"
    );
}

/// X's runs all ended just now; Y has waited all along. With both at zero running, Y (never
/// served) goes before X's older pending run, and after that X and Y alternate.
pub async fn queue_breaks_ties_by_the_user_served_least_recently(repos: &Repositories) {
    let x = owner(repos, "x@example.com").await;
    let y = owner(repos, "y@example.com").await;
    let xs = queued(repos, x, 4, 1).await;
    let ys = queued(repos, y, 2, 10).await;
    let limits = ClaimLimits {
        global: 1,
        per_user: 1,
    };
    let claim = |now: i64| {
        repos
            .executions
            .claim_next("node-a", limits, at(now), at(now + 60))
    };
    let finish = |run: TaskExecution, now: i64| async move {
        let mut run = run;
        let from = run.complete(None, at(now)).unwrap();
        repos.executions.update(&run, from).await.unwrap();
    };
    let first = claim(20).await.unwrap().unwrap();
    assert_eq!(first.id, xs[0].id, "nobody served yet: the oldest run");
    assert_eq!(first.started_at, Some(at(20)), "a claim is a start");
    finish(first, 21).await;
    let second = claim(22).await.unwrap().unwrap();
    assert_eq!(second.id, ys[0].id, "Y was never served, X was at 20");
    finish(second, 23).await;
    let third = claim(24).await.unwrap().unwrap();
    assert_eq!(third.id, xs[1].id, "X served at 20, Y at 22");
    finish(third, 25).await;
    assert_eq!(claim(26).await.unwrap().unwrap().id, ys[1].id);
}
