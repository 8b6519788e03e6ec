//! MCP servers over HTTP: globals are admin-managed and shown redacted to users; a user's own
//! servers are theirs alone.

use overseer_e2e::{spawn_sqlite, temp_data_dir};
use reqwest::Method;
use serde_json::json;

use overseer_testkit::http_api::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_servers_are_admin_only_and_redacted_for_users() {
    let app = spawn_sqlite(temp_data_dir()).await;
    let base = app.url("");
    let admin = Api::sign_up(&base, "admin@example.com").await; // the first user
    let user = Api::sign_up(&base, "user@example.com").await;
    let other = Api::sign_up(&base, "other@example.com").await;

    let global = json!({"name": "docs", "is_global": true,
        "config": {"type": "http", "url": "https://docs.internal/mcp", "headers": {"Authorization": "Bearer s3cret"}}});
    let (status, body) = user
        .json(Method::POST, "/api/v1/mcp-servers", Some(global.clone()))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, created) = admin
        .json(Method::POST, "/api/v1/mcp-servers", Some(global))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["config"]["headers"]["Authorization"],
        json!("Bearer s3cret"),
        "admins see the value"
    );
    let id = created["id"].as_str().unwrap();

    let (status, seen) = user
        .json(Method::GET, &format!("/api/v1/mcp-servers/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        seen["config"]["headers"]["Authorization"],
        json!("<redacted>")
    );
    let (status, _) = user
        .json(Method::DELETE, &format!("/api/v1/mcp-servers/{id}"), None)
        .await;
    assert_eq!(status, 403);

    let (status, own) = user
        .json(
            Method::POST,
            "/api/v1/mcp-servers",
            Some(json!({"name": "k8s", "config": {"command": "k8s-mcp"}})),
        )
        .await;
    assert_eq!(status, 201, "{own}");
    let own_id = own["id"].as_str().unwrap();
    let (status, _) = other
        .json(Method::GET, &format!("/api/v1/mcp-servers/{own_id}"), None)
        .await;
    assert_eq!(status, 404, "someone else's server does not exist for you");
    let (_, listed) = other.json(Method::GET, "/api/v1/mcp-servers", None).await;
    assert_eq!(listed["total"], json!(1), "only the global one: {listed}");
    let (_, all) = admin.json(Method::GET, "/api/v1/mcp-servers", None).await;
    assert_eq!(all["total"], json!(2));
    let (status, _) = admin
        .json(Method::DELETE, &format!("/api/v1/mcp-servers/{id}"), None)
        .await;
    assert_eq!(status, 204);
}
