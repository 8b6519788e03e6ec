use std::collections::BTreeSet;
use std::sync::Arc;

use overseer_domain::{
    Delivery, DeliveryId, DeliveryStatus, NotificationEvent, NotificationTarget,
    NotificationTargetId,
};
use overseer_ports::{PageRequest, RepoError, Repositories, Scope};
use serde_json::json;
use tokio::sync::Barrier;

use super::support::owner;
use crate::fixtures::{self, at, delivery, notification_target as target};

/// What a claim at `now` (seconds) holding until `until` takes, ten at most.
async fn claim(repos: &Repositories, now: i64, until: i64) -> Vec<Delivery> {
    repos
        .notifications
        .claim_due(at(now), at(until), 10)
        .await
        .unwrap()
}

/// How many deliveries `target` has in the outbox.
async fn queued(repos: &Repositories, target: &NotificationTarget) -> u64 {
    repos
        .notifications
        .list_deliveries(target.id, PageRequest::first(10))
        .await
        .unwrap()
        .total
}

pub async fn notification_targets_by_scope_and_event(repos: &Repositories) {
    let alice = owner(repos, "alice@example.com").await;
    let bob = owner(repos, "bob@example.com").await;
    let admin = owner(repos, "admin@example.com").await;
    let alices = target(
        alice,
        Some(alice),
        &[NotificationEvent::ApprovalRequested],
        1,
    );
    let bobs = target(
        bob,
        Some(bob),
        &[
            NotificationEvent::ApprovalRequested,
            NotificationEvent::ExecutionFinished,
        ],
        2,
    );
    let global = target(admin, None, &[NotificationEvent::ExecutionFinished], 3);
    for t in [&alices, &bobs, &global] {
        repos.notifications.insert_target(t).await.unwrap();
    }
    assert_eq!(
        repos
            .notifications
            .get_target(alices.id, Scope::Owner(alice))
            .await
            .unwrap(),
        alices
    );
    assert!(matches!(
        repos
            .notifications
            .get_target(alices.id, Scope::Owner(bob))
            .await,
        Err(RepoError::NotFound { .. })
    ));
    let mine = repos
        .notifications
        .list_targets(Scope::Owner(bob), PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(mine.items, vec![bobs.clone()]);
    let all = repos
        .notifications
        .list_targets(Scope::Admin, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.items[0], global, "newest first");

    let hearing = |event, user| {
        let repos = repos.clone();
        async move {
            repos
                .notifications
                .targets_hearing(event, user)
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        hearing(NotificationEvent::ApprovalRequested, alice).await,
        vec![alices.id]
    );
    assert_eq!(
        hearing(NotificationEvent::ExecutionFinished, alice).await,
        vec![global.id]
    );
    assert_eq!(
        hearing(NotificationEvent::ExecutionFinished, bob).await,
        vec![bobs.id, global.id]
    );
    assert_eq!(
        hearing(NotificationEvent::BudgetThreshold, bob).await,
        Vec::new()
    );

    assert!(matches!(
        repos
            .notifications
            .delete_target(alices.id, Scope::Owner(bob))
            .await,
        Err(RepoError::NotFound { .. })
    ));
    repos
        .notifications
        .enqueue(&[delivery(&alices, 1)])
        .await
        .unwrap();
    repos
        .notifications
        .delete_target(alices.id, Scope::Owner(alice))
        .await
        .unwrap();
    assert!(matches!(
        repos
            .notifications
            .get_target(alices.id, Scope::Admin)
            .await,
        Err(RepoError::NotFound { .. })
    ));
    assert_eq!(
        claim(repos, 100, 200).await,
        Vec::new(),
        "a deleted target's deliveries are gone with it"
    );
}

pub async fn deliveries_are_claimed_when_due_leased_and_recorded(repos: &Repositories) {
    let alice = owner(repos, "alice@example.com").await;
    let hook = target(
        alice,
        Some(alice),
        &[NotificationEvent::ApprovalRequested],
        1,
    );
    repos.notifications.insert_target(&hook).await.unwrap();
    let early = delivery(&hook, 10);
    let late = delivery(&hook, 20);
    repos
        .notifications
        .enqueue(&[late.clone(), early.clone()])
        .await
        .unwrap();
    let orphan = Delivery {
        target_id: NotificationTargetId::from_uuid(fixtures::id()),
        ..delivery(&hook, 5)
    };
    assert!(matches!(
        repos
            .notifications
            .enqueue(&[delivery(&hook, 30), orphan])
            .await,
        Err(RepoError::NotFound { .. })
    ));
    assert_eq!(
        queued(repos, &hook).await,
        2,
        "a failed enqueue writes none of its deliveries"
    );

    assert_eq!(claim(repos, 5, 60).await, Vec::new(), "nothing due yet");
    assert_eq!(claim(repos, 15, 60).await, vec![early.clone()]);
    assert_eq!(
        claim(repos, 25, 60).await,
        vec![late.clone()],
        "a leased delivery is not handed out again while its lease runs"
    );
    // The claimer of `early` died: its lease ends and the delivery is due again.
    let again = claim(repos, 60, 120).await;
    assert_eq!(
        again.iter().map(|d| d.id).collect::<BTreeSet<_>>(),
        BTreeSet::from([early.id, late.id])
    );

    let mut failed = early.clone();
    failed.attempt_failed("connection refused".into(), at(61));
    repos.notifications.record(&failed).await.unwrap();
    let mut sent = late.clone();
    sent.delivered(at(61));
    repos.notifications.record(&sent).await.unwrap();
    assert_eq!(
        claim(repos, 61, 180).await,
        Vec::new(),
        "a failed attempt waits for its backoff; a delivered one is done"
    );
    assert_eq!(claim(repos, 62, 180).await, vec![failed.clone()]);
    let listed = repos
        .notifications
        .list_deliveries(hook.id, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        listed.items,
        vec![sent.clone(), failed],
        "newest first, as recorded"
    );
    assert_eq!(listed.items[0].status, DeliveryStatus::Delivered);
    let mut gone = sent;
    gone.id = DeliveryId::from_uuid(fixtures::id());
    assert!(matches!(
        repos.notifications.record(&gone).await,
        Err(RepoError::NotFound { .. })
    ));
}

pub async fn racing_claimers_never_take_one_delivery_twice(repos: &Repositories) {
    let alice = owner(repos, "alice@example.com").await;
    let hook = target(
        alice,
        Some(alice),
        &[NotificationEvent::ApprovalRequested],
        1,
    );
    repos.notifications.insert_target(&hook).await.unwrap();
    let queued: Vec<Delivery> = (0..40).map(|n| delivery(&hook, n)).collect();
    repos.notifications.enqueue(&queued).await.unwrap();
    let barrier = Arc::new(Barrier::new(4));
    let claims: Vec<_> = (0..4)
        .map(|_| {
            let (repos, barrier) = (repos.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let mut mine = Vec::new();
                loop {
                    let batch = repos
                        .notifications
                        .claim_due(at(100), at(1000), 3)
                        .await
                        .unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|d| d.id));
                }
            })
        })
        .collect();
    let mut taken = Vec::new();
    for claim in claims {
        taken.extend(claim.await.unwrap());
    }
    let distinct: BTreeSet<_> = taken.iter().copied().collect();
    assert_eq!(taken.len(), 40, "every delivery claimed");
    assert_eq!(distinct.len(), 40, "none claimed twice");
}

pub async fn an_approval_and_its_notices_are_written_together(repos: &Repositories) {
    use overseer_domain::{Approval, ApprovalId, ApprovalStatus};

    let session = super::support::owned_session(repos).await;
    let hook = target(
        session.user_id,
        Some(session.user_id),
        &[NotificationEvent::ApprovalRequested],
        1,
    );
    repos.notifications.insert_target(&hook).await.unwrap();
    let approval = |n: i64| {
        Approval::pending(
            ApprovalId::from_uuid(fixtures::id()),
            session.id,
            session.user_id,
            None,
            "Bash".to_owned(),
            json!({"command": "deploy"}),
            at(n),
            at(n + 300),
        )
    };
    let orphan = Delivery {
        target_id: NotificationTargetId::from_uuid(fixtures::id()),
        ..delivery(&hook, 1)
    };
    let refused = approval(1);
    assert!(matches!(
        repos
            .approvals
            .insert(&refused, &[delivery(&hook, 1), orphan.clone()])
            .await,
        Err(RepoError::NotFound { .. })
    ));
    assert!(
        matches!(
            repos.approvals.get(refused.id, Scope::Admin).await,
            Err(RepoError::NotFound { .. })
        ),
        "a failed outbox write leaves no approval"
    );
    let mut asked = approval(2);
    repos
        .approvals
        .insert(&asked, &[delivery(&hook, 2)])
        .await
        .unwrap();
    assert_eq!(queued(repos, &hook).await, 1);

    asked
        .resolve(ApprovalStatus::Allowed, Some(session.user_id), at(3))
        .unwrap();
    assert!(matches!(
        repos
            .approvals
            .update(&asked, ApprovalStatus::Pending, &[orphan])
            .await,
        Err(RepoError::NotFound { .. })
    ));
    assert_eq!(
        repos
            .approvals
            .get(asked.id, Scope::Admin)
            .await
            .unwrap()
            .status(),
        ApprovalStatus::Pending,
        "a failed outbox write leaves the answer unwritten"
    );
    repos
        .approvals
        .update(&asked, ApprovalStatus::Pending, &[delivery(&hook, 3)])
        .await
        .unwrap();
    let mut late = asked.clone();
    late.resolve(ApprovalStatus::Expired, None, at(4)).ok();
    let lost = repos
        .approvals
        .update(&late, ApprovalStatus::Pending, &[delivery(&hook, 4)])
        .await;
    assert!(matches!(lost, Err(RepoError::Conflict { .. })), "{lost:?}");
    assert_eq!(
        queued(repos, &hook).await,
        2,
        "the race's loser enqueues nothing"
    );
}

pub async fn an_ending_and_its_notices_are_written_together(repos: &Repositories) {
    use overseer_domain::ExecutionStatus;

    let user = owner(repos, "ending@example.com").await;
    let task = fixtures::task(user, "ending", at(0));
    repos.tasks.insert(&task).await.unwrap();
    let hook = target(user, Some(user), &[NotificationEvent::ExecutionFinished], 1);
    repos.notifications.insert_target(&hook).await.unwrap();
    let run = fixtures::execution(&task, at(1));
    repos.executions.insert(&run).await.unwrap();
    let orphan = Delivery {
        target_id: NotificationTargetId::from_uuid(fixtures::id()),
        ..delivery(&hook, 1)
    };
    let mut cancelled = run.clone();
    let from = cancelled.cancel(at(2)).unwrap();
    assert!(matches!(
        repos
            .executions
            .update_with(&cancelled, from, &[delivery(&hook, 1), orphan])
            .await,
        Err(RepoError::NotFound { .. })
    ));
    assert_eq!(
        repos
            .executions
            .get(run.id, Scope::Admin)
            .await
            .unwrap()
            .status(),
        ExecutionStatus::Pending,
        "a failed outbox write leaves the ending unwritten"
    );
    assert_eq!(queued(repos, &hook).await, 0);
    repos
        .executions
        .update_with(&cancelled, from, &[delivery(&hook, 2)])
        .await
        .unwrap();
    assert_eq!(queued(repos, &hook).await, 1);
    let lost = repos
        .executions
        .update_with(&cancelled, from, &[delivery(&hook, 3)])
        .await;
    assert!(matches!(lost, Err(RepoError::Conflict { .. })), "{lost:?}");
    assert_eq!(
        queued(repos, &hook).await,
        1,
        "a lost race enqueues nothing"
    );
}
