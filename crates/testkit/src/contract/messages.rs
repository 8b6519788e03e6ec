use overseer_domain::SessionId;
use overseer_ports::{RepoError, Repositories, Scope};

use super::support::owned_session;
use crate::fixtures::{self, at};

/// 50 writers append to one session at once: the numbers are exactly 1..=50.
pub async fn message_sequence_is_gap_free_under_concurrency(repos: &Repositories) {
    let session = owned_session(repos).await;
    let mut handles = Vec::new();
    for i in 0..50 {
        let repos = repos.clone();
        handles.push(tokio::spawn(async move {
            repos
                .messages
                .append(fixtures::message(session.id, &format!("event {i}"), at(i)))
                .await
        }));
    }
    let mut numbers = Vec::new();
    for handle in handles {
        numbers.push(handle.await.unwrap().unwrap().sequence_number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=50).collect::<Vec<u64>>());

    let stored = repos.messages.list_after(session.id, 0, 100).await.unwrap();
    assert_eq!(
        stored.iter().map(|m| m.sequence_number).collect::<Vec<_>>(),
        (1..=50).collect::<Vec<u64>>()
    );
    let counted = repos.sessions.get(session.id, Scope::Admin).await.unwrap();
    assert_eq!(counted.usage.message_count, 50);
}

pub async fn message_append_needs_an_existing_session(repos: &Repositories) {
    let ghost = SessionId::from_uuid(fixtures::id());
    let err = repos
        .messages
        .append(fixtures::message(ghost, "x", at(1)))
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::NotFound { .. }), "{err:?}");
}

pub async fn message_failed_append_uses_no_number(repos: &Repositories) {
    let session = owned_session(repos).await;
    let first = fixtures::message(session.id, "first", at(1));
    repos.messages.append(first.clone()).await.unwrap();
    let err = repos.messages.append(first).await.unwrap_err();
    assert!(matches!(err, RepoError::AlreadyExists { .. }), "{err:?}");
    let next = repos
        .messages
        .append(fixtures::message(session.id, "second", at(2)))
        .await
        .unwrap();
    assert_eq!(next.sequence_number, 2, "a failed append leaves no gap");
    assert_eq!(
        repos
            .sessions
            .get(session.id, Scope::Admin)
            .await
            .unwrap()
            .usage
            .message_count,
        2
    );
}

pub async fn message_list_after_returns_in_order(repos: &Repositories) {
    let session = owned_session(repos).await;
    let mut written = Vec::new();
    for i in 0..10 {
        written.push(
            repos
                .messages
                .append(fixtures::message(session.id, &format!("m{i}"), at(i)))
                .await
                .unwrap(),
        );
    }
    let page = repos.messages.list_after(session.id, 3, 4).await.unwrap();
    assert_eq!(page, written[3..7].to_vec());
    assert!(
        repos
            .messages
            .list_after(session.id, 10, 4)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(repos.messages.get(written[5].id).await.unwrap(), written[5]);

    // Another session's messages are separate, numbered from 1.
    let other = fixtures::session(session.user_id, at(20));
    repos.sessions.insert(&other).await.unwrap();
    let first = repos
        .messages
        .append(fixtures::message(other.id, "x", at(21)))
        .await
        .unwrap();
    assert_eq!(first.sequence_number, 1);
    assert_eq!(
        repos.messages.list_after(other.id, 0, 100).await.unwrap(),
        vec![first]
    );
}
