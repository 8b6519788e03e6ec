use std::sync::Arc;

use overseer_domain::{Approval, ApprovalId, ApprovalStatus, Session};
use overseer_ports::repositories::ApprovalFilter;
use overseer_ports::{Page, PageRequest, RepoError, Repositories, Scope};
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

pub async fn a_budget_approval_keeps_its_kind(repos: &Repositories) {
    let session = owned_session(repos).await;
    let budget = Approval::budget(
        ApprovalId::from_uuid(fixtures::id()),
        session.id,
        session.user_id,
        0.5,
        0.52,
        at(3),
        at(303),
    );
    repos.approvals.insert(&budget, &[]).await.unwrap();
    assert_eq!(
        repos.approvals.get(budget.id, Scope::Admin).await.unwrap(),
        budget,
        "a budget approval keeps its kind"
    );
}

pub async fn approval_round_trips_with_scope(repos: &Repositories) {
    let session = owned_session(repos).await;
    let older = approval(&session, 1);
    let newer = approval(&session, 2);
    repos.approvals.insert(&newer, &[]).await.unwrap();
    repos.approvals.insert(&older, &[]).await.unwrap();
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
        .update(&answered, ApprovalStatus::Pending, &[])
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
        repos.approvals.insert(&orphan, &[]).await,
        Err(RepoError::NotFound { .. })
    ));
}

/// Lists keep to the owner's approvals (an admin sees all), filter by status and session, and
/// page newest first.
pub async fn approvals_list_by_scope_status_and_session(repos: &Repositories) {
    let mine = owned_session(repos).await;
    let also_mine = fixtures::session(mine.user_id, at(0));
    repos.sessions.insert(&also_mine).await.unwrap();
    let other = owner(repos, "someone@example.com").await;
    let theirs = fixtures::session(other, at(0));
    repos.sessions.insert(&theirs).await.unwrap();
    let first = approval(&mine, 1);
    let second = approval(&also_mine, 2);
    let mut answered = approval(&mine, 3);
    let foreign = approval(&theirs, 4);
    for a in [&first, &second, &answered, &foreign] {
        repos.approvals.insert(a, &[]).await.unwrap();
    }
    answered
        .resolve(ApprovalStatus::Denied, Some(mine.user_id), at(5))
        .unwrap();
    repos
        .approvals
        .update(&answered, ApprovalStatus::Pending, &[])
        .await
        .unwrap();
    let ids = |page: Page<Approval>| page.items.into_iter().map(|a| a.id).collect::<Vec<_>>();
    let pending = ApprovalFilter {
        status: Some(ApprovalStatus::Pending),
        session: None,
    };
    let all = PageRequest::new(PageRequest::MAX_LIMIT, 0);
    let page = repos
        .approvals
        .list(Scope::Owner(mine.user_id), pending, all)
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(
        ids(page),
        vec![second.id, first.id],
        "newest first, mine only"
    );
    let page = repos
        .approvals
        .list(Scope::Admin, pending, all)
        .await
        .unwrap();
    assert_eq!(ids(page), vec![foreign.id, second.id, first.id]);
    let of_session = ApprovalFilter {
        status: None,
        session: Some(mine.id),
    };
    let page = repos
        .approvals
        .list(Scope::Owner(mine.user_id), of_session, all)
        .await
        .unwrap();
    assert_eq!(ids(page), vec![answered.id, first.id]);
    let page = repos
        .approvals
        .list(Scope::Owner(other), of_session, all)
        .await
        .unwrap();
    assert_eq!(page.total, 0, "someone else's session shows nothing");
    let second_page = repos
        .approvals
        .list(Scope::Admin, pending, PageRequest::new(1, 1))
        .await
        .unwrap();
    assert_eq!((second_page.total, ids(second_page)), (3, vec![second.id]));
}

/// An answer and an expiry race on one pending approval: exactly one wins.
pub async fn approval_answer_and_expiry_race_has_one_winner(repos: &Repositories) {
    let session = owned_session(repos).await;
    for round in 0..10 {
        let pending = approval(&session, round);
        repos.approvals.insert(&pending, &[]).await.unwrap();
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
                repos
                    .approvals
                    .update(&copy, ApprovalStatus::Pending, &[])
                    .await
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
