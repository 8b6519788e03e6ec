use std::sync::Arc;

use overseer_domain::TaskId;
use overseer_ports::{RepoError, Repositories};

use super::support::owner;
use crate::fixtures::{self, at, id};

async fn stored_task(repos: &Repositories) -> TaskId {
    let user = owner(repos, "hooks@example.com").await;
    let task = fixtures::task(user, "hooked", at(0));
    repos.tasks.insert(&task).await.unwrap();
    task.id
}

pub async fn webhook_secret_is_stored_then_rotated(repos: &Repositories) {
    let task = stored_task(repos).await;
    assert_eq!(repos.webhooks.secret(task).await.unwrap(), None);
    repos
        .webhooks
        .set_secret(task, "first", at(1))
        .await
        .unwrap();
    assert_eq!(
        repos.webhooks.secret(task).await.unwrap().as_deref(),
        Some("first")
    );
    repos
        .webhooks
        .set_secret(task, "second", at(2))
        .await
        .unwrap();
    assert_eq!(
        repos.webhooks.secret(task).await.unwrap().as_deref(),
        Some("second")
    );
    let ghost = TaskId::from_uuid(id());
    assert!(matches!(
        repos.webhooks.set_secret(ghost, "x", at(3)).await,
        Err(RepoError::NotFound { .. })
    ));
}

pub async fn webhook_receipt_is_accepted_once_under_racing(repos: &Repositories) {
    let task = stored_task(repos).await;
    let repos = Arc::new(repos.clone());
    let deliveries: Vec<_> = (0..8)
        .map(|_| {
            let repos = repos.clone();
            tokio::spawn(async move {
                repos
                    .webhooks
                    .record_receipt(task, "sha256=abc", at(10))
                    .await
            })
        })
        .collect();
    let mut accepted = 0;
    for delivery in deliveries {
        if delivery.await.unwrap().unwrap() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1, "a replayed signature is refused");
    assert!(
        repos
            .webhooks
            .record_receipt(task, "sha256=def", at(11))
            .await
            .unwrap()
    );
}

pub async fn webhook_receipts_older_than_the_window_are_pruned(repos: &Repositories) {
    let task = stored_task(repos).await;
    for (signature, second) in [("old", 10), ("new", 100)] {
        repos
            .webhooks
            .record_receipt(task, signature, at(second))
            .await
            .unwrap();
    }
    assert_eq!(repos.webhooks.prune_receipts(at(50)).await.unwrap(), 1);
    assert!(
        repos
            .webhooks
            .record_receipt(task, "old", at(120))
            .await
            .unwrap(),
        "pruned: accepted again (its timestamp check refuses it first)"
    );
    assert!(
        !repos
            .webhooks
            .record_receipt(task, "new", at(120))
            .await
            .unwrap()
    );
}
