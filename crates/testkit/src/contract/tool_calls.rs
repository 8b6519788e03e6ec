use overseer_domain::{PermissionDecision, ToolCallStatus};
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
