use overseer_ports::{PageRequest, RepoError, Repositories, Scope};

use crate::fixtures::{self, at};

pub async fn report_round_trips_with_scope(repos: &Repositories) {
    let me = fixtures::user("me@example.com");
    let other = fixtures::user("other@example.com");
    repos.users.insert(&me).await.unwrap();
    repos.users.insert(&other).await.unwrap();
    let session = fixtures::session(me.id, at(0));
    repos.sessions.insert(&session).await.unwrap();

    let older = fixtures::report(session.id, me.id, at(1));
    let newer = fixtures::report(session.id, me.id, at(2));
    repos.reports.insert(&older).await.unwrap();
    repos.reports.insert(&newer).await.unwrap();
    assert_eq!(
        repos
            .reports
            .get(older.id, Scope::Owner(me.id))
            .await
            .unwrap(),
        older
    );
    assert!(matches!(
        repos.reports.get(older.id, Scope::Owner(other.id)).await,
        Err(RepoError::NotFound { .. })
    ));

    let page = PageRequest::default();
    let listed = repos
        .reports
        .list_for_session(session.id, Scope::Owner(me.id), page)
        .await
        .unwrap();
    assert_eq!(listed.items, vec![newer, older]);
    assert_eq!(
        repos
            .reports
            .list_for_session(session.id, Scope::Owner(other.id), page)
            .await
            .unwrap()
            .total,
        0
    );

    let orphan = fixtures::report(fixtures::session(me.id, at(3)).id, me.id, at(3));
    assert!(matches!(
        repos.reports.insert(&orphan).await,
        Err(RepoError::NotFound { .. })
    ));
}
