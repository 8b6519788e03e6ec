use overseer_domain::{PermissionDecision, ToolCallStatus};
use overseer_ports::repositories::ToolCallWrite;
use overseer_ports::{PageRequest, RepoError, Repositories};

use super::support::owned_session;
use crate::fixtures::{self, at};

pub async fn tool_call_round_trips_and_updates_compare_and_set(repos: &Repositories) {
    let session = owned_session(repos).await;
    let message = repos
        .messages
        .append(fixtures::message(session.id, "running kubectl", at(1)))
        .await
        .unwrap();
    let mut call = fixtures::tool_call(session.id, "toolu_01", at(1));
    call.message_id = Some(message.id);
    repos.tool_calls.insert(&call).await.unwrap();
    assert_eq!(
        repos
            .tool_calls
            .find_by_tool_use_id(session.id, "toolu_01")
            .await
            .unwrap(),
        Some(call.clone())
    );

    let mut done = call.clone();
    done.status = ToolCallStatus::Completed;
    done.permission_decision = Some(PermissionDecision::Allowed);
    done.tool_output = Some("NAME READY\napi 1/1".to_owned());
    done.tool_output_bytes = Some(19);
    done.completed_at = Some(at(2));
    done.duration_ms = Some(1000);
    repos
        .tool_calls
        .update(&done, ToolCallStatus::Running)
        .await
        .unwrap();
    assert_eq!(
        repos
            .tool_calls
            .find_by_tool_use_id(session.id, "toolu_01")
            .await
            .unwrap(),
        Some(done.clone())
    );

    let mut late = call.clone();
    late.status = ToolCallStatus::Denied;
    let err = repos
        .tool_calls
        .update(&late, ToolCallStatus::Running)
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::Conflict { .. }), "{err:?}");

    let ghost = fixtures::tool_call(session.id, "toolu_ghost", at(3));
    assert!(matches!(
        repos
            .tool_calls
            .update(&ghost, ToolCallStatus::Running)
            .await,
        Err(RepoError::NotFound { .. })
    ));
    assert_eq!(
        repos
            .tool_calls
            .find_by_tool_use_id(session.id, "toolu_ghost")
            .await
            .unwrap(),
        None
    );
}

pub async fn tool_call_use_id_is_unique_per_session(repos: &Repositories) {
    let session = owned_session(repos).await;
    repos
        .tool_calls
        .insert(&fixtures::tool_call(session.id, "toolu_01", at(1)))
        .await
        .unwrap();
    let err = repos
        .tool_calls
        .insert(&fixtures::tool_call(session.id, "toolu_01", at(2)))
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::AlreadyExists { .. }), "{err:?}");

    let other = fixtures::session(session.user_id, at(3));
    repos.sessions.insert(&other).await.unwrap();
    repos
        .tool_calls
        .insert(&fixtures::tool_call(other.id, "toolu_01", at(4)))
        .await
        .unwrap();

    let orphan = fixtures::tool_call(
        fixtures::session(session.user_id, at(5)).id,
        "toolu_02",
        at(5),
    );
    assert!(matches!(
        repos.tool_calls.insert(&orphan).await,
        Err(RepoError::NotFound { .. })
    ));
}

pub async fn tool_call_list_is_in_call_order(repos: &Repositories) {
    let session = owned_session(repos).await;
    let mut ids = Vec::new();
    for i in [3, 1, 2] {
        let call = fixtures::tool_call(session.id, &format!("toolu_{i}"), at(i));
        repos.tool_calls.insert(&call).await.unwrap();
        ids.push((i, call.id));
    }
    ids.sort_unstable();
    let page = repos
        .tool_calls
        .list_for_session(session.id, PageRequest::first(2))
        .await
        .unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(
        page.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![ids[0].1, ids[1].1]
    );
}

/// `save_all` inserts and updates in one step: a conflict in any write leaves every row as it
/// was. `find_by_tool_use_ids` finds exactly the asked calls of the session.
pub async fn tool_call_batches_are_all_or_nothing(repos: &Repositories) {
    let session = owned_session(repos).await;
    let first = fixtures::tool_call(session.id, "toolu_a", at(1));
    repos.tool_calls.insert(&first).await.unwrap();

    let mut first_done = first.clone();
    first_done.status = ToolCallStatus::Completed;
    first_done.tool_output = Some("ok".to_owned());
    let second = fixtures::tool_call(session.id, "toolu_b", at(2));
    let third = fixtures::tool_call(session.id, "toolu_c", at(3));
    let writes = [
        ToolCallWrite {
            call: first_done.clone(),
            expected: Some(first.status),
        },
        ToolCallWrite {
            call: second.clone(),
            expected: None,
        },
        ToolCallWrite {
            call: third.clone(),
            expected: None,
        },
    ];
    repos.tool_calls.save_all(&writes).await.unwrap();
    let mut found = repos
        .tool_calls
        .find_by_tool_use_ids(
            session.id,
            &[
                "toolu_a".to_owned(),
                "toolu_c".to_owned(),
                "toolu_x".to_owned(),
            ],
        )
        .await
        .unwrap();
    found.sort_by(|a, b| a.tool_use_id.cmp(&b.tool_use_id));
    assert_eq!(found, vec![first_done.clone(), third.clone()]);

    // A new call, then an update whose expected status is stale: neither is written.
    let fourth = fixtures::tool_call(session.id, "toolu_d", at(4));
    let mut second_failed = second.clone();
    second_failed.status = ToolCallStatus::Failed;
    let stale = [
        ToolCallWrite {
            call: fourth,
            expected: None,
        },
        ToolCallWrite {
            call: second_failed,
            // `second` is stored as running.
            expected: Some(ToolCallStatus::Pending),
        },
    ];
    let err = repos.tool_calls.save_all(&stale).await.unwrap_err();
    assert!(matches!(err, RepoError::Conflict { .. }), "{err:?}");
    // A duplicate tool use id fails the batch too.
    let duplicate = fixtures::tool_call(session.id, "toolu_a", at(5));
    let fifth = fixtures::tool_call(session.id, "toolu_e", at(5));
    let clash = [
        ToolCallWrite {
            call: fifth,
            expected: None,
        },
        ToolCallWrite {
            call: duplicate,
            expected: None,
        },
    ];
    let err = repos.tool_calls.save_all(&clash).await.unwrap_err();
    assert!(matches!(err, RepoError::AlreadyExists { .. }), "{err:?}");

    let stored = repos
        .tool_calls
        .list_for_session(session.id, PageRequest::default())
        .await
        .unwrap()
        .items;
    assert_eq!(
        stored,
        vec![first_done, second, third],
        "nothing half-written"
    );
    assert!(repos.tool_calls.save_all(&[]).await.is_ok());
}

/// Only the session's pending and running calls, oldest first.
pub async fn tool_call_unfinished_lists_pending_and_running_only(repos: &Repositories) {
    let session = owned_session(repos).await;
    let mut pending = fixtures::tool_call(session.id, "toolu_p", at(1));
    pending.status = ToolCallStatus::Pending;
    let running = fixtures::tool_call(session.id, "toolu_r", at(2));
    let mut done = fixtures::tool_call(session.id, "toolu_d", at(3));
    done.status = ToolCallStatus::Completed;
    for call in [&running, &done, &pending] {
        repos.tool_calls.insert(call).await.unwrap();
    }
    let other = fixtures::session(session.user_id, at(4));
    repos.sessions.insert(&other).await.unwrap();
    repos
        .tool_calls
        .insert(&fixtures::tool_call(other.id, "toolu_o", at(4)))
        .await
        .unwrap();
    assert_eq!(
        repos.tool_calls.list_unfinished(session.id).await.unwrap(),
        vec![pending, running]
    );
}
