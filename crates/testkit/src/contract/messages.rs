use overseer_domain::{SessionId, ToolCallStatus};
use overseer_ports::repositories::ToolCallWrite;
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
    // A cursor past anything a store can hold has nothing after it (was a storage error).
    for cursor in [i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
        let page = repos.messages.list_after(session.id, cursor, 4).await;
        assert!(
            matches!(&page, Ok(found) if found.is_empty()),
            "after {cursor}: {page:?}"
        );
    }
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

/// A batch takes consecutive numbers after what is stored, in the order given, and batches
/// racing with single appends still leave no gap and no duplicate.
pub async fn message_batches_are_numbered_consecutively_and_atomically(repos: &Repositories) {
    let session = owned_session(repos).await;
    repos
        .messages
        .append(fixtures::message(session.id, "first", at(0)))
        .await
        .unwrap();
    let batch: Vec<_> = (1..=5)
        .map(|i| fixtures::message(session.id, &format!("b{i}"), at(i)))
        .collect();
    let stored = repos
        .messages
        .append_all(session.id, batch.clone())
        .await
        .unwrap();
    assert_eq!(
        stored.iter().map(|m| m.sequence_number).collect::<Vec<_>>(),
        vec![2, 3, 4, 5, 6]
    );
    assert_eq!(
        stored.iter().map(|m| m.id).collect::<Vec<_>>(),
        batch.iter().map(|m| m.id).collect::<Vec<_>>(),
        "in the order given"
    );
    assert_eq!(
        repos.messages.list_after(session.id, 1, 100).await.unwrap(),
        stored
    );
    assert!(
        repos
            .messages
            .append_all(session.id, Vec::new())
            .await
            .unwrap()
            .is_empty()
    );

    // One taken id fails the whole batch: nothing written, no number used.
    let mut clashing: Vec<_> = (10..13)
        .map(|i| fixtures::message(session.id, &format!("c{i}"), at(i)))
        .collect();
    clashing.push(batch[0].clone());
    let err = repos
        .messages
        .append_all(session.id, clashing)
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::AlreadyExists { .. }), "{err:?}");
    // A message of another session does not belong in the batch.
    let other = fixtures::session(session.user_id, at(20));
    repos.sessions.insert(&other).await.unwrap();
    let err = repos
        .messages
        .append_all(session.id, vec![fixtures::message(other.id, "x", at(21))])
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::Conflict { .. }), "{err:?}");
    let ghost = SessionId::from_uuid(fixtures::id());
    let err = repos
        .messages
        .append_all(ghost, vec![fixtures::message(ghost, "x", at(21))])
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::NotFound { .. }), "{err:?}");
    assert_eq!(
        repos
            .sessions
            .get(session.id, Scope::Admin)
            .await
            .unwrap()
            .usage
            .message_count,
        6
    );

    // Batches of 3 and single appends race: 10 writers of each.
    let mut handles = Vec::new();
    for i in 0..10 {
        let batcher = repos.clone();
        handles.push(tokio::spawn(async move {
            let batch = (0..3)
                .map(|j| fixtures::message(session.id, &format!("r{i}-{j}"), at(30)))
                .collect();
            let stored = batcher
                .messages
                .append_all(session.id, batch)
                .await
                .unwrap();
            stored.iter().map(|m| m.sequence_number).collect::<Vec<_>>()
        }));
        let repos = repos.clone();
        handles.push(tokio::spawn(async move {
            let message = fixtures::message(session.id, &format!("s{i}"), at(30));
            vec![
                repos
                    .messages
                    .append(message)
                    .await
                    .unwrap()
                    .sequence_number,
            ]
        }));
    }
    let mut numbers = Vec::new();
    for handle in handles {
        let taken = handle.await.unwrap();
        assert!(
            taken.windows(2).all(|w| w[1] == w[0] + 1),
            "a batch is consecutive: {taken:?}"
        );
        numbers.extend(taken);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (7..=46).collect::<Vec<u64>>());
}

/// `append_with` stores a batch's messages and the tool calls they mention together: a call
/// may refer to a message of the same batch, and a failing tool call write leaves neither the
/// messages nor their numbers behind.
pub async fn message_batches_store_their_tool_calls_in_the_same_step(repos: &Repositories) {
    let session = owned_session(repos).await;
    let asked = fixtures::message(session.id, "tool use", at(1));
    let mut call = fixtures::tool_call(session.id, "toolu_1", at(1));
    call.message_id = Some(asked.id);
    let write = ToolCallWrite {
        call: call.clone(),
        expected: None,
    };
    let stored = repos
        .messages
        .append_with(
            session.id,
            vec![asked.clone()],
            std::slice::from_ref(&write),
        )
        .await
        .unwrap();
    assert_eq!(stored[0].sequence_number, 1);
    let stored_call = |repos: &Repositories| {
        let repos = repos.clone();
        async move {
            repos
                .tool_calls
                .find_by_tool_use_id(session.id, "toolu_1")
                .await
                .unwrap()
                .unwrap()
        }
    };
    assert_eq!(stored_call(repos).await, call);

    // The same call inserted again clashes: the batch's message is not kept either.
    let second = fixtures::message(session.id, "result", at(2));
    let err = repos
        .messages
        .append_with(session.id, vec![second.clone()], &[write])
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::AlreadyExists { .. }), "{err:?}");
    assert!(matches!(
        repos.messages.get(second.id).await,
        Err(RepoError::NotFound { .. })
    ));
    // A stale update fails the batch the same way.
    let mut done = call.clone();
    done.status = ToolCallStatus::Completed;
    let stale = ToolCallWrite {
        call: done.clone(),
        expected: Some(ToolCallStatus::Completed),
    };
    let err = repos
        .messages
        .append_with(session.id, vec![second.clone()], &[stale])
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::Conflict { .. }), "{err:?}");
    let count = |repos: &Repositories| {
        let repos = repos.clone();
        async move {
            repos
                .sessions
                .get(session.id, Scope::Admin)
                .await
                .unwrap()
                .usage
                .message_count
        }
    };
    assert_eq!(count(repos).await, 1, "no number used by a failed batch");

    // An update of a call stored earlier, with the message that finishes it.
    let fresh = ToolCallWrite {
        call: done.clone(),
        expected: Some(call.status),
    };
    let stored = repos
        .messages
        .append_with(session.id, vec![second], &[fresh])
        .await
        .unwrap();
    assert_eq!(stored[0].sequence_number, 2);
    assert_eq!(stored_call(repos).await.status, ToolCallStatus::Completed);
    assert_eq!(count(repos).await, 2);
}
