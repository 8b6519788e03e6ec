//! Quotas over HTTP: admins set them, users read their own, and a run over a limit is a 429
//! problem naming the limit.

use overseer_e2e::{spawn_sqlite, temp_data_dir};
use overseer_testkit::http_api::{Api, Method};
use serde_json::{Value, json};

async fn user_id(api: &Api) -> String {
    let (status, me) = api.json(Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(status, 200, "{me}");
    me["id"].as_str().unwrap().to_owned()
}

fn task() -> Value {
    json!({
        "name": "Quota check",
        "prompt_template": "Check {cluster_name}.",
        "variables": [{"name": "cluster_name", "type": "string"}],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_the_quota_is_a_429_naming_the_limit() {
    let app = spawn_sqlite(temp_data_dir()).await;
    let base = app.url("");
    let admin = Api::sign_up(&base, "admin@example.com").await; // the first user
    let bob = Api::sign_up(&base, "bob@example.com").await;
    let bob_id = user_id(&bob).await;
    let quota_path = format!("/api/v1/users/{bob_id}/quota");

    // Only admins set quotas; bad limits name the field.
    let (status, body) = bob
        .json(
            Method::PUT,
            &quota_path,
            Some(json!({"max_active_runs": 5})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = admin
        .json(
            Method::PUT,
            &quota_path,
            Some(json!({"max_daily_cost_usd": -1})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], json!("max_daily_cost_usd"));
    let (status, body) = admin
        .json(
            Method::PUT,
            &quota_path,
            Some(json!({"max_active_runs": 0, "max_daily_cost_usd": 2.5})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["effective"]["max_active_runs"], json!(0));

    // Bob reads his own quota, not the admin's.
    let (status, mine) = bob.json(Method::GET, &quota_path, None).await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["own"]["max_daily_cost_usd"], json!(2.5));
    assert_eq!(mine["remaining_today_usd"], json!(2.5));
    let admin_path = format!("/api/v1/users/{}/quota", user_id(&admin).await);
    assert_eq!(bob.json(Method::GET, &admin_path, None).await.0, 404);

    let (status, created) = bob.json(Method::POST, "/api/v1/tasks", Some(task())).await;
    assert_eq!(status, 201, "{created}");
    let execute = format!("/api/v1/tasks/{}/execute", created["id"].as_str().unwrap());
    let response = bob
        .call(
            Method::POST,
            &execute,
            Some(json!({"variables": {"cluster_name": "prod"}})),
        )
        .await;
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], json!("/problems/quota-exceeded"));
    assert_eq!(problem["limit"], json!("max_active_runs"), "{problem}");

    let (_, runs) = bob
        .json(
            Method::GET,
            &format!(
                "/api/v1/tasks/{}/executions",
                created["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(runs["items"], json!([]), "nothing stored");
}
