use std::sync::Arc;

use overseer_domain::{Approval, ApprovalId, ApprovalStatus, Session};
use overseer_ports::{RepoError, Repositories, Scope};
use serde_json::json;
use tokio::sync::Barrier;

use super::support::{owned_session, owner};
use crate::fixtures::{self, at};

fn approval(session: &Session, created: i64) -> Approval {
    Approval::pending(
        ApprovalId::from_uuid(fixtures::id()),
        session.id,
        session.user_id,
        Some(format!("toolu_{created}")),
        "Bash".to_owned(),
        json!({"command": "kubectl delete pod api-0"}),
        at(created),
        at(created + 300),
    )
}

pub async fn approval_round_trips_with_scope(repos: &Repositories) {
    let session = owned_session(repos).await;
    let older = approval(&session, 1);
    let newer = approval(&session, 2);
    repos.approvals.insert(&newer).await.unwrap();
    repos.approvals.insert(&older).await.unwrap();
    assert_eq!(
        repos
            .approvals
            .get(older.id, Scope::Owner(session.user_id))
            .await
            .unwrap(),
        older
    );
    let other = owner(repos, "other@example.com").await;
    assert!(matches!(
        repos.approvals.get(older.id, Scope::Owner(other)).await,
        Err(RepoError::NotFound { .. })
    ));
    assert_eq!(
        repos.approvals.list_pending(session.id).await.unwrap(),
        vec![older.clone(), newer.clone()]
    );

    let mut answered = older.clone();
    answered
        .resolve(ApprovalStatus::Allowed, Some(session.user_id), at(10))
        .unwrap();
    repos
        .approvals
        .update(&answered, ApprovalStatus::Pending)
        .await
        .unwrap();
    assert_eq!(
        repos.approvals.get(older.id, Scope::Admin).await.unwrap(),
        answered
    );
    assert_eq!(
        repos.approvals.list_pending(session.id).await.unwrap(),
        vec![newer]
    );

    let orphan = approval(&fixtures::session(session.user_id, at(0)), 3);
    assert!(matches!(
        repos.approvals.insert(&orphan).await,
        Err(RepoError::NotFound { .. })
    ));
}

/// An answer and an expiry race on one pending approval: exactly one wins.
pub async fn approval_answer_and_expiry_race_has_one_winner(repos: &Repositories) {
    let session = owned_session(repos).await;
    for round in 0..10 {
        let pending = approval(&session, round);
        repos.approvals.insert(&pending).await.unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let mut handles = Vec::new();
        for (to, by) in [
            (ApprovalStatus::Denied, Some(session.user_id)),
            (ApprovalStatus::Expired, None),
        ] {
            let (repos, barrier, mut copy) = (repos.clone(), barrier.clone(), pending.clone());
            handles.push(tokio::spawn(async move {
                copy.resolve(to, by, at(100)).unwrap();
                barrier.wait().await;
                repos.approvals.update(&copy, ApprovalStatus::Pending).await
            }));
        }
        let mut wins = 0;
        for handle in handles {
            match handle.await.unwrap() {
                Ok(()) => wins += 1,
                Err(RepoError::Conflict { .. }) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(wins, 1, "round {round}");
    }
}
