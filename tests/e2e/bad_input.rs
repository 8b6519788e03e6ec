//! Bad input answers 4xx problem+json naming what is wrong, never 5xx, and writes nothing.

use overseer_auth::JwtIssuer;
use overseer_domain::{Role, UserId};
use overseer_e2e::{spawn_sqlite, temp_data_dir};
use overseer_ports::agent::Secret;
use overseer_ports::auth::{TokenClaims, TokenIssuer, TokenKind};
use reqwest::Method;
use serde_json::{Value, json};

use overseer_testkit::http_api::Api;

fn task() -> Value {
    json!({
        "name": "Kubernetes Cluster Health Check",
        "prompt_template": "Check the health of the {cluster_name} cluster.",
        "variables": [{"name": "cluster_name", "type": "string"}]
    })
}

fn is_problem(status: u16, body: &Value, expected_status: u16, kind: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["type"], json!(format!("/problems/{kind}")), "{body}");
    assert_eq!(body["status"], json!(expected_status), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_4xx_problems_and_write_nothing() {
    let app = spawn_sqlite(temp_data_dir()).await;
    let base = app.url("");
    let alice = Api::sign_up(&base, "alice@example.com").await;
    let (_, created) = alice
        .json(Method::POST, "/api/v1/tasks", Some(task()))
        .await;
    let task_id = created["id"].as_str().unwrap().to_owned();
    let execute = format!("/api/v1/tasks/{task_id}/execute");

    // Malformed JSON.
    let response = alice
        .client
        .post(app.url(&execute))
        .bearer_auth(alice.token.as_deref().unwrap())
        .header("content-type", "application/json")
        .body("{\"variables\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let status = response.status().as_u16();
    is_problem(
        status,
        &response.json().await.unwrap(),
        400,
        "malformed-request",
    );

    // A wrong type.
    let (status, body) = alice
        .json(
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"name": "x", "prompt_template": 5})),
        )
        .await;
    is_problem(status, &body, 422, "validation");
    assert!(
        body["detail"].as_str().unwrap().contains("invalid type"),
        "{body}"
    );

    // A missing variable, named.
    let (status, body) = alice
        .json(Method::POST, &execute, Some(json!({"variables": {}})))
        .await;
    is_problem(status, &body, 422, "validation");
    assert_eq!(
        body["errors"][0]["field"],
        json!("variables.cluster_name"),
        "{body}"
    );

    // An unknown field where it matters (a typo in the agent options, a top-level typo).
    let mut typo = task();
    typo["sdk_options"] = json!({"allowed_tool": ["Bash"]});
    let (status, body) = alice.json(Method::POST, "/api/v1/tasks", Some(typo)).await;
    is_problem(status, &body, 422, "validation");
    assert!(
        body["detail"].as_str().unwrap().contains("allowed_tool"),
        "{body}"
    );
    let (status, body) = alice
        .json(
            Method::POST,
            &execute,
            Some(json!({"variabls": {"cluster_name": "p"}})),
        )
        .await;
    is_problem(status, &body, 422, "validation");
    assert!(
        body["detail"].as_str().unwrap().contains("variabls"),
        "{body}"
    );

    // Bad schedules, each naming its field: a pattern, a zone, a policy, and a template
    // whose variable has no default (scheduled runs have no variables).
    for (schedule, field) in [
        (json!({"schedule": "61 * * * *"}), "schedule"),
        (
            json!({"schedule": "0 9 * * *", "schedule_timezone": "Mars/Olympus"}),
            "schedule_timezone",
        ),
        (
            json!({"schedule": "0 9 * * *", "schedule_missed_ticks": "sometimes"}),
            "schedule_missed_ticks",
        ),
        (json!({"schedule_timezone": "UTC"}), "schedule"),
        (json!({"schedule": "0 9 * * *"}), "schedule"),
    ] {
        let mut scheduled = task();
        for (key, value) in schedule.as_object().unwrap() {
            scheduled[key] = value.clone();
        }
        let (status, body) = alice
            .json(Method::POST, "/api/v1/tasks", Some(scheduled))
            .await;
        is_problem(status, &body, 422, "validation");
        assert_eq!(body["errors"][0]["field"], json!(field), "{body}");
    }

    // A bad UUID.
    let (status, body) = alice
        .json(Method::GET, "/api/v1/tasks/not-a-uuid", None)
        .await;
    is_problem(status, &body, 400, "malformed-request");

    // An oversized body.
    let huge = json!({"variables": {"cluster_name": "x".repeat(2 * 1024 * 1024)}});
    let (status, body) = alice.json(Method::POST, &execute, Some(huge)).await;
    is_problem(status, &body, 413, "payload-too-large");
    assert_eq!(body["limit"], json!("max_body_bytes"), "{body}");

    // Nothing was written by any of them.
    let (_, executions) = alice
        .json(
            Method::GET,
            &format!("/api/v1/tasks/{task_id}/executions"),
            None,
        )
        .await;
    assert_eq!(executions["total"], json!(0), "{executions}");
    let (_, tasks) = alice.json(Method::GET, "/api/v1/tasks", None).await;
    assert_eq!(tasks["total"], json!(1));

    // Expired, forged and alg:none tokens.
    let secret = std::fs::read_to_string(app.data_dir.join("jwt-secret")).unwrap();
    let (_, me) = alice.json(Method::GET, "/api/v1/auth/me", None).await;
    let user: UserId = me["id"].as_str().unwrap().parse().unwrap();
    let claims = |seconds: i64| TokenClaims {
        user_id: user,
        role: Role::User,
        kind: TokenKind::Access,
        expires_at: time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds),
    };
    let expired = JwtIssuer::new(&Secret::new(secret.trim()))
        .issue(&claims(-10))
        .unwrap();
    let forged = JwtIssuer::new(&Secret::new("not-the-service-secret"))
        .issue(&claims(600))
        .unwrap();
    let valid = JwtIssuer::new(&Secret::new(secret.trim()))
        .issue(&claims(600))
        .unwrap();
    let unsigned = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        valid.split('.').nth(1).unwrap()
    );
    for token in [expired, forged, unsigned, "garbage".to_owned()] {
        let mut caller = Api::new(base.clone());
        caller.token = Some(token);
        let response = caller.call(Method::GET, "/api/v1/tasks", None).await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let status = response.status().as_u16();
        is_problem(status, &response.json().await.unwrap(), 401, "unauthorized");
    }
    let (status, body) = Api::new(base.clone())
        .json(Method::GET, "/api/v1/tasks", None)
        .await;
    is_problem(status, &body, 401, "unauthorized");
    // A valid token of the same secret works, so the refusals above were about the tokens.
    let mut fine = Api::new(base.clone());
    fine.token = Some(valid);
    assert_eq!(fine.json(Method::GET, "/api/v1/tasks", None).await.0, 200);

    // The responses never carry the password hash or the secret.
    let (_, me_again) = alice.json(Method::GET, "/api/v1/auth/me", None).await;
    let printed = me_again.to_string();
    assert!(
        !printed.contains("argon2") && !printed.contains(secret.trim()),
        "{printed}"
    );
}

/// Found by schemathesis: an offset past what the database can take dropped the connection (a
/// panic in the store), and a quota past what it can store was written and then failed every
/// read with a 503. Both are now 422 problems naming the field, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_numbers_are_422_problems_not_panics() {
    let app = spawn_sqlite(temp_data_dir()).await;
    let admin = Api::sign_up(&app.url(""), "admin@example.com").await;
    for path in ["/api/v1/tasks", "/api/v1/sessions", "/api/v1/audit-logs"] {
        for offset in ["9223372036854775808", "18446744073709551615"] {
            let (status, body) = admin
                .json(Method::GET, &format!("{path}?offset={offset}"), None)
                .await;
            is_problem(status, &body, 422, "validation");
            assert_eq!(body["errors"][0]["field"], json!("offset"), "{body}");
        }
    }
    // A message cursor past the documented bound is a 422 (found by schemathesis: it was a
    // 503); the largest one within it has nothing after it.
    let (_, session) = admin
        .json(Method::POST, "/api/v1/sessions", Some(json!({"name": "s"})))
        .await;
    let messages = format!(
        "/api/v1/sessions/{}/messages",
        session["id"].as_str().unwrap()
    );
    for after in ["9223372036854775808", "18446744073709551615"] {
        let (status, body) = admin
            .json(Method::GET, &format!("{messages}?after={after}"), None)
            .await;
        is_problem(status, &body, 422, "validation");
        assert_eq!(body["errors"][0]["field"], json!("after"), "{body}");
    }
    let (status, body) = admin
        .json(
            Method::GET,
            &format!("{messages}?after=9223372036854775807"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"], json!([]), "{body}");
    let (_, me) = admin.json(Method::GET, "/api/v1/auth/me", None).await;
    let quota = format!("/api/v1/users/{}/quota", me["id"].as_str().unwrap());
    let (status, body) = admin
        .json(
            Method::PUT,
            &quota,
            Some(json!({"max_active_runs": 4_294_967_295_u64})),
        )
        .await;
    is_problem(status, &body, 422, "validation");
    assert_eq!(
        body["errors"][0]["field"],
        json!("max_active_runs"),
        "{body}"
    );
    let (status, body) = admin.json(Method::GET, &quota, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["own"]["max_active_runs"],
        Value::Null,
        "nothing written: {body}"
    );
}

/// Found by schemathesis' `unsupported_method`, `negative_data_rejection` and
/// `positive_data_acceptance` checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_keeps_to_its_document_on_methods_bodies_and_ids() {
    let app = spawn_sqlite(temp_data_dir()).await;
    let base = app.url("");
    let alice = Api::sign_up(&base, "alice@example.com").await;

    // A known path with a method it does not serve: 405 naming the ones it does.
    for (method, path, allow) in [
        ("TRACE", "/api/v1/tasks", "GET, POST"),
        (
            "PUT",
            "/api/v1/tasks/0190b3a2-7f7e-7c3a-9d4e-000000000000",
            "DELETE, GET, PATCH",
        ),
        ("DELETE", "/api/v1/auth/me", "GET"),
        ("POST", "/health", "GET"),
    ] {
        let response = alice
            .call(Method::from_bytes(method.as_bytes()).unwrap(), path, None)
            .await;
        assert_eq!(response.status().as_u16(), 405, "{method} {path}");
        assert_eq!(
            response.headers()["allow"].to_str().unwrap(),
            allow,
            "{method} {path}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["type"], "/problems/method-not-allowed", "{problem}");
    }
    let (status, _) = alice.json(Method::GET, "/api/v1/nothing-here", None).await;
    assert_eq!(status, 404, "an unknown path stays 404");

    // A body must be the object the document describes, not its fields in an array.
    let (status, body) = alice
        .json(Method::POST, "/api/v1/tasks", Some(json!(["t", null, "p"])))
        .await;
    is_problem(status, &body, 422, "validation");
    assert_eq!(body["errors"][0]["field"], "body", "{body}");
    let (status, body) = alice
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": "s", "sdk_options": [null, null]})),
        )
        .await;
    is_problem(status, &body, 422, "validation");
    assert_eq!(body["errors"][0]["field"], "sdk_options", "{body}");
    let (_, sessions) = alice.json(Method::GET, "/api/v1/sessions", None).await;
    assert_eq!(sessions["total"], 0, "{sessions}");

    // Path ids are documented as UUIDs.
    let document: Value = overseer_testkit::http_api::client()
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = &document["paths"]["/api/v1/tasks/{id}"]["get"]["parameters"][0];
    assert_eq!(id["schema"]["format"], "uuid", "{id}");
}
