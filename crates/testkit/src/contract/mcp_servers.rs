use overseer_domain::{HttpUrl, McpScope, McpServerConfig, McpServerName};
use overseer_ports::{PageRequest, RepoError, Repositories, Scope};

use crate::fixtures::{self, at};

pub async fn mcp_server_visibility_by_scope(repos: &Repositories) {
    let me = fixtures::user("me@example.com");
    let other = fixtures::user("other@example.com");
    repos.users.insert(&me).await.unwrap();
    repos.users.insert(&other).await.unwrap();

    let global_k8s = fixtures::mcp_server(McpScope::Global, "k8s", at(1));
    let my_k8s = fixtures::mcp_server(McpScope::User(me.id), "k8s", at(2));
    let mut my_disabled = fixtures::mcp_server(McpScope::User(me.id), "db", at(3));
    my_disabled.is_enabled = false;
    let theirs = fixtures::mcp_server(McpScope::User(other.id), "grafana", at(4));
    for server in [&global_k8s, &my_k8s, &my_disabled, &theirs] {
        repos.mcp_servers.insert(server).await.unwrap();
    }

    let page = PageRequest::default();
    let mine = repos
        .mcp_servers
        .list(Scope::Owner(me.id), page)
        .await
        .unwrap();
    assert_eq!(
        mine.items,
        vec![my_disabled.clone(), my_k8s.clone(), global_k8s.clone()]
    );
    assert_eq!(
        repos
            .mcp_servers
            .list(Scope::Admin, page)
            .await
            .unwrap()
            .total,
        4
    );
    assert_eq!(
        repos
            .mcp_servers
            .get(global_k8s.id, Scope::Owner(other.id))
            .await
            .unwrap(),
        global_k8s
    );
    assert!(matches!(
        repos.mcp_servers.get(theirs.id, Scope::Owner(me.id)).await,
        Err(RepoError::NotFound { .. })
    ));

    // Enabled, own and global, by name with the user's own first.
    let enabled = repos.mcp_servers.list_enabled_for(me.id).await.unwrap();
    assert_eq!(enabled, vec![my_k8s, global_k8s.clone()]);
    assert_eq!(
        repos.mcp_servers.list_enabled_for(other.id).await.unwrap(),
        vec![theirs, global_k8s]
    );
}

pub async fn mcp_server_names_are_unique_per_owner(repos: &Repositories) {
    let me = fixtures::user("me@example.com");
    let other = fixtures::user("other@example.com");
    repos.users.insert(&me).await.unwrap();
    repos.users.insert(&other).await.unwrap();

    repos
        .mcp_servers
        .insert(&fixtures::mcp_server(McpScope::User(me.id), "k8s", at(1)))
        .await
        .unwrap();
    repos
        .mcp_servers
        .insert(&fixtures::mcp_server(
            McpScope::User(other.id),
            "k8s",
            at(2),
        ))
        .await
        .unwrap();
    repos
        .mcp_servers
        .insert(&fixtures::mcp_server(McpScope::Global, "k8s", at(3)))
        .await
        .unwrap();
    let dup_user = fixtures::mcp_server(McpScope::User(me.id), "k8s", at(4));
    assert!(matches!(
        repos.mcp_servers.insert(&dup_user).await,
        Err(RepoError::AlreadyExists { .. })
    ));
    let dup_global = fixtures::mcp_server(McpScope::Global, "k8s", at(5));
    assert!(matches!(
        repos.mcp_servers.insert(&dup_global).await,
        Err(RepoError::AlreadyExists { .. })
    ));
    let orphan = fixtures::mcp_server(
        McpScope::User(fixtures::user("x@example.com").id),
        "k8s",
        at(6),
    );
    assert!(matches!(
        repos.mcp_servers.insert(&orphan).await,
        Err(RepoError::NotFound { .. })
    ));
}

pub async fn mcp_server_update_and_delete_respect_scope(repos: &Repositories) {
    let me = fixtures::user("me@example.com");
    repos.users.insert(&me).await.unwrap();
    let global = fixtures::mcp_server(McpScope::Global, "docs", at(1));
    let mut mine = fixtures::mcp_server(McpScope::User(me.id), "k8s", at(2));
    let taken = fixtures::mcp_server(McpScope::User(me.id), "db", at(3));
    for server in [&global, &mine, &taken] {
        repos.mcp_servers.insert(server).await.unwrap();
    }

    mine.config = McpServerConfig::Http {
        url: HttpUrl::new("https://k8s.internal/mcp").unwrap(),
        headers: Default::default(),
    };
    mine.is_enabled = false;
    mine.updated_at = at(9);
    repos.mcp_servers.update(&mine).await.unwrap();
    assert_eq!(
        repos
            .mcp_servers
            .get(mine.id, Scope::Owner(me.id))
            .await
            .unwrap(),
        mine
    );

    let mut clash = mine.clone();
    clash.name = McpServerName::new("db").unwrap();
    assert!(matches!(
        repos.mcp_servers.update(&clash).await,
        Err(RepoError::AlreadyExists { .. })
    ));

    // An owner scope cannot delete a global server; the admin scope can.
    assert!(matches!(
        repos
            .mcp_servers
            .delete(global.id, Scope::Owner(me.id))
            .await,
        Err(RepoError::NotFound { .. })
    ));
    repos
        .mcp_servers
        .delete(global.id, Scope::Admin)
        .await
        .unwrap();
    repos
        .mcp_servers
        .delete(mine.id, Scope::Owner(me.id))
        .await
        .unwrap();
    assert!(matches!(
        repos.mcp_servers.get(mine.id, Scope::Admin).await,
        Err(RepoError::NotFound { .. })
    ));
    assert!(matches!(
        repos.mcp_servers.delete(mine.id, Scope::Admin).await,
        Err(RepoError::NotFound { .. })
    ));
}
