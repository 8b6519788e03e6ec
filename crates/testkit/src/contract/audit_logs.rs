use overseer_domain::{AuditAction, ResourceType, ToolCallStatus};
use overseer_ports::repositories::{AuditFilter, ToolCallWrite};
use overseer_ports::{PageRequest, RepoError, Repositories, Scope};

use super::support::owned_session;
use crate::fixtures::{self, at};

pub async fn audit_log_filters_and_scope(repos: &Repositories) {
    let me = fixtures::user("me@example.com");
    let other = fixtures::user("other@example.com");
    repos.users.insert(&me).await.unwrap();
    repos.users.insert(&other).await.unwrap();

    let executed = fixtures::audit(Some(me.id), "task.executed", "exec-1", at(10));
    let denied = fixtures::audit(Some(me.id), "tool.permission_denied", "exec-1", at(20));
    let theirs = fixtures::audit(Some(other.id), "task.executed", "exec-2", at(30));
    let anonymous = fixtures::audit(None, "auth.login_failed", "login", at(40));
    for entry in [&executed, &denied, &theirs, &anonymous] {
        repos.audit_logs.append(entry).await.unwrap();
    }
    assert!(matches!(
        repos.audit_logs.append(&executed).await,
        Err(RepoError::AlreadyExists { .. })
    ));

    let page = PageRequest::default();
    let mine = repos
        .audit_logs
        .list(Scope::Owner(me.id), AuditFilter::default(), page)
        .await
        .unwrap();
    assert_eq!(mine.items, vec![denied.clone(), executed.clone()]);
    let all = repos
        .audit_logs
        .list(Scope::Admin, AuditFilter::default(), page)
        .await
        .unwrap();
    assert_eq!(all.total, 4);
    assert_eq!(all.items[0], anonymous);

    let by_action = AuditFilter {
        action: Some(AuditAction::TaskExecuted),
        ..AuditFilter::default()
    };
    assert_eq!(
        repos
            .audit_logs
            .list(Scope::Admin, by_action, page)
            .await
            .unwrap()
            .items,
        vec![theirs, executed.clone()]
    );

    let by_resource = AuditFilter {
        resource_type: Some(ResourceType::new("task_execution").unwrap()),
        resource_id: Some("exec-1".to_owned()),
        ..AuditFilter::default()
    };
    assert_eq!(
        repos
            .audit_logs
            .list(Scope::Admin, by_resource, page)
            .await
            .unwrap()
            .total,
        2
    );

    // `since` is inclusive, `until` exclusive.
    let window = AuditFilter {
        since: Some(at(10)),
        until: Some(at(30)),
        ..AuditFilter::default()
    };
    assert_eq!(
        repos
            .audit_logs
            .list(Scope::Admin, window, page)
            .await
            .unwrap()
            .items,
        vec![denied, executed]
    );
}

/// `append_with` writes audit entries and the tool call writes they account for together:
/// when either part fails, neither is kept.
pub async fn audit_entries_and_their_tool_calls_are_written_together(repos: &Repositories) {
    let session = owned_session(repos).await;
    let owner = Some(session.user_id);
    let resource = session.id.to_string();
    let call = fixtures::tool_call(session.id, "toolu_1", at(1));
    let insert = ToolCallWrite {
        call: call.clone(),
        expected: None,
    };
    let pre_use = fixtures::audit(owner, "tool.pre_use", &resource, at(1));
    let granted = fixtures::audit(owner, "tool.permission_granted", &resource, at(2));
    repos
        .audit_logs
        .append_with(
            &[pre_use.clone(), granted.clone()],
            std::slice::from_ref(&insert),
        )
        .await
        .unwrap();
    let entries = |repos: &Repositories| {
        let repos = repos.clone();
        async move {
            repos
                .audit_logs
                .list(Scope::Admin, AuditFilter::default(), PageRequest::default())
                .await
                .unwrap()
                .items
        }
    };
    assert_eq!(entries(repos).await, vec![granted, pre_use]);
    let stored = repos
        .tool_calls
        .find_by_tool_use_id(session.id, "toolu_1")
        .await
        .unwrap();
    assert_eq!(stored, Some(call.clone()));

    // A failing tool call write (the same call inserted again) keeps no entry.
    let lost = fixtures::audit(owner, "tool.post_use", &resource, at(3));
    let err = repos
        .audit_logs
        .append_with(std::slice::from_ref(&lost), &[insert])
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(
        entries(repos).await.len(),
        2,
        "the entry went with the write"
    );

    // A failing entry (an id taken) keeps no tool call write.
    let mut done = call.clone();
    done.status = ToolCallStatus::Completed;
    let update = ToolCallWrite {
        call: done,
        expected: Some(call.status),
    };
    let mut taken = fixtures::audit(owner, "tool.post_use", &resource, at(4));
    taken.id = lost.id;
    repos.audit_logs.append(&lost).await.unwrap();
    let err = repos
        .audit_logs
        .append_with(&[taken], &[update])
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::AlreadyExists { .. }), "{err:?}");
    let kept = repos
        .tool_calls
        .find_by_tool_use_id(session.id, "toolu_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.status, call.status, "the write went with the entry");
}
