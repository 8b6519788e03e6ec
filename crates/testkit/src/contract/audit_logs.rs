use overseer_domain::{AuditAction, ResourceType};
use overseer_ports::repositories::AuditFilter;
use overseer_ports::{PageRequest, RepoError, Repositories, Scope};

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
