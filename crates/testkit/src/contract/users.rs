use overseer_domain::{Email, Role};
use overseer_ports::{PageRequest, RepoError, Repositories};

use crate::fixtures::{self, at};

pub async fn user_insert_get_and_find_by_email(repos: &Repositories) {
    let user = fixtures::user("ops@example.com");
    repos.users.insert(&user).await.unwrap();
    assert_eq!(repos.users.get(user.id).await.unwrap(), user);
    let email = Email::new("ops@example.com").unwrap();
    assert_eq!(repos.users.find_by_email(&email).await.unwrap(), Some(user));
    let other = Email::new("nobody@example.com").unwrap();
    assert_eq!(repos.users.find_by_email(&other).await.unwrap(), None);
    let missing = fixtures::user("x@example.com").id;
    assert!(matches!(
        repos.users.get(missing).await,
        Err(RepoError::NotFound { .. })
    ));
}

pub async fn user_email_is_unique(repos: &Repositories) {
    repos
        .users
        .insert(&fixtures::user("ops@example.com"))
        .await
        .unwrap();
    let err = repos
        .users
        .insert(&fixtures::user("ops@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(repos.users.count().await.unwrap(), 1);
}

pub async fn user_update_count_and_list(repos: &Repositories) {
    let mut first = fixtures::user("a@example.com");
    first.created_at = at(1);
    let mut second = fixtures::user("b@example.com");
    second.created_at = at(2);
    repos.users.insert(&first).await.unwrap();
    repos.users.insert(&second).await.unwrap();
    assert_eq!(repos.users.count().await.unwrap(), 2);

    first.role = Role::Admin;
    first.is_active = false;
    first.updated_at = at(10);
    repos.users.update(&first).await.unwrap();
    assert_eq!(repos.users.get(first.id).await.unwrap(), first);

    let mut clash = first.clone();
    clash.email = second.email.clone();
    assert!(matches!(
        repos.users.update(&clash).await,
        Err(RepoError::AlreadyExists { .. })
    ));

    let page = repos.users.list(PageRequest::first(10)).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(
        page.items.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![second.id, first.id]
    );

    let ghost = fixtures::user("ghost@example.com");
    assert!(matches!(
        repos.users.update(&ghost).await,
        Err(RepoError::NotFound { .. })
    ));
}
