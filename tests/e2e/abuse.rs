//! Abuse limits: login and register are rate limited per client address, answered with a 429
//! problem naming the limit and a `Retry-After`.

use std::num::NonZeroU32;

use overseer_e2e::{spawn_sqlite_with, temp_data_dir};
use overseer_testkit::http_api::Api;
use reqwest::Method;
use serde_json::{Value, json};

async fn post(api: &Api, path: &str, body: Value) -> reqwest::Response {
    api.call(Method::POST, path, Some(body)).await
}

async fn assert_rate_limited(response: reqwest::Response, limit: &str) {
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], json!("/problems/rate-limited"), "{body}");
    assert_eq!(body["limit"], json!(limit), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_register_are_rate_limited_per_client() {
    let app = spawn_sqlite_with(temp_data_dir(), |settings| {
        settings.auth_attempts_per_minute = NonZeroU32::new(3).unwrap();
    })
    .await;
    let anonymous = Api::new(app.url(""));
    let password = "correct horse battery";
    for n in 0..3 {
        let email = format!("user{n}@example.com");
        let response = post(
            &anonymous,
            "/api/v1/auth/register",
            json!({"email": email, "password": password}),
        )
        .await;
        assert_eq!(response.status().as_u16(), 201);
    }
    let fourth = json!({"email": "user3@example.com", "password": password});
    let refused = post(&anonymous, "/api/v1/auth/register", fourth).await;
    assert_rate_limited(refused, "registrations_per_minute").await;

    // Wrong passwords count, and so does the right one once the allowance is spent.
    let wrong = json!({"email": "user0@example.com", "password": "wrong password!"});
    for _ in 0..2 {
        let response = post(&anonymous, "/api/v1/auth/login", wrong.clone()).await;
        assert_eq!(response.status().as_u16(), 401);
    }
    let right = json!({"email": "user0@example.com", "password": password});
    let response = post(&anonymous, "/api/v1/auth/login", right.clone()).await;
    assert_eq!(response.status().as_u16(), 200);
    let refused = post(&anonymous, "/api/v1/auth/login", right).await;
    assert_rate_limited(refused, "login_attempts_per_minute").await;

    // The rest of the API is not limited by it.
    let (status, _) = anonymous.json(Method::GET, "/health", None).await;
    assert_eq!(status, 200);
}

/// Live streams per session are capped (256): one more is a 429 naming the cap. Messages are
/// capped too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_per_session_are_capped() {
    let app = spawn_sqlite_with(temp_data_dir(), |_| {}).await;
    let alice = Api::sign_up(&app.url(""), "alice@example.com").await;
    let token = alice.token.clone().unwrap();
    let (status, session) = alice
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": "watched"})),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let url = app.url(&format!(
        "/api/v1/sessions/{}/stream",
        session["id"].as_str().unwrap()
    ));
    let open = || {
        alice
            .client
            .get(&url)
            .bearer_auth(&token)
            .header("accept", "text/event-stream")
            .send()
    };
    let mut streams = Vec::new();
    for _ in 0..256 {
        let response = open().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        streams.push(response);
    }
    // A message over the message cap is refused, naming it.
    let oversized = json!({"content": "x".repeat(300 * 1024)});
    let (status, body) = alice
        .json(
            Method::POST,
            &format!(
                "/api/v1/sessions/{}/messages",
                session["id"].as_str().unwrap()
            ),
            Some(oversized),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["limit"], json!("max_message_bytes"), "{body}");

    let refused = open().await.unwrap();
    assert_eq!(refused.status().as_u16(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["type"], json!("/problems/limit-reached"), "{body}");
    assert_eq!(body["limit"], json!("subscribers_per_session"), "{body}");
    assert!(body["detail"].as_str().unwrap().contains("256"), "{body}");
}

async fn open(api: &Api, name: &str) -> (u16, Value) {
    api.json(
        Method::POST,
        "/api/v1/sessions",
        Some(json!({ "name": name })),
    )
    .await
}

/// A user may hold only so many interactive sessions open: one more is a 429 naming the cap,
/// and nothing of it is written. Other users are not affected, and ending one frees a place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_interactive_sessions_per_user_are_capped() {
    let app = spawn_sqlite_with(temp_data_dir(), |settings| {
        settings.max_open_sessions_per_user = 3;
    })
    .await;
    let alice = Api::sign_up(&app.url(""), "alice@example.com").await;
    let bob = Api::sign_up(&app.url(""), "bob@example.com").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (status, session) = open(&alice, &format!("s{n}")).await;
        assert_eq!(status, 201, "{session}");
        ids.push(session["id"].as_str().unwrap().to_owned());
    }
    let (status, problem) = open(&alice, "one too many").await;
    assert_eq!(status, 429, "{problem}");
    assert_eq!(problem["limit"], json!("max_open_sessions"), "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("quota-exceeded")
    );
    let (_, list) = alice.json(Method::GET, "/api/v1/sessions", None).await;
    assert_eq!(list["total"], json!(3), "nothing written: {list}");

    let (status, _) = open(&bob, "bob's own").await;
    assert_eq!(status, 201, "another user is not affected");

    let (status, ended) = alice
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{}/terminate", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{ended}");
    let (status, session) = open(&alice, "in the freed place").await;
    assert_eq!(status, 201, "{session}");
}
