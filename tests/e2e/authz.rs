//! The authorization matrix: every endpoint × {owner, another user, anonymous, admin} ×
//! {the owner's resource, a missing one}. The allowed cells are declared in one table
//! (`OPERATIONS`); every other cell must be refused — 401 without a token, 403 where only an
//! admin may act on something the caller may see, and 404 where the resource's existence must
//! not leak (someone else's, or missing). Allowed cells must not answer 401/403/404 or 5xx.
//!
//! Not in the matrix: login, register and refresh (their credentials are the request itself),
//! and the webhook receiver, which authenticates by signature (all JWT callers get 401 there).

use overseer_e2e::{Db, spawn_with_agent_and};
use overseer_testkit::http_api::Api;
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Owner,
    Other,
    Anonymous,
    Admin,
}

const EVERYONE: &[Who] = &[Who::Owner, Who::Other, Who::Anonymous, Who::Admin];
const SIGNED_IN: &[Who] = &[Who::Owner, Who::Other, Who::Admin];
const OWNER_OR_ADMIN: &[Who] = &[Who::Owner, Who::Admin];
const ADMIN: &[Who] = &[Who::Admin];
const NOBODY: &[Who] = &[];

/// One operation. `{task}`, `{execution}`, `{session}`, `{report}`, `{mcp}` and `{user}` in the
/// path are the owner's resources (fresh for every cell), or a missing id; `{ran}` is the
/// owner's session that has run a turn (shared: only read).
struct Operation {
    method: &'static str,
    path: &'static str,
    body: fn() -> Option<Value>,
    /// Who may act on the owner's resource. On a missing resource nobody may.
    allowed: &'static [Who],
}

const fn op(
    method: &'static str,
    path: &'static str,
    body: fn() -> Option<Value>,
    allowed: &'static [Who],
) -> Operation {
    Operation {
        method,
        path,
        body,
        allowed,
    }
}

fn none() -> Option<Value> {
    None
}
fn task_body() -> Option<Value> {
    Some(json!({"name": "Matrix", "prompt_template": "authz matrix"}))
}
fn task_patch() -> Option<Value> {
    Some(json!({"description": "changed"}))
}
fn execute_body() -> Option<Value> {
    Some(json!({"variables": {}}))
}
fn session_body() -> Option<Value> {
    Some(json!({"name": "matrix"}))
}
fn fork_body() -> Option<Value> {
    Some(json!({}))
}
fn message_body() -> Option<Value> {
    Some(json!({"content": "authz matrix: hello"}))
}
fn report_body() -> Option<Value> {
    Some(json!({"format": "markdown"}))
}
fn approval_body() -> Option<Value> {
    Some(json!({"decision": "allow"}))
}
fn mcp_body() -> Option<Value> {
    Some(json!({"name": "matrix-mcp", "config": {"type": "http", "url": "http://127.0.0.1:9/mcp"}}))
}
fn mcp_patch() -> Option<Value> {
    Some(json!({"is_enabled": false}))
}
fn target_body() -> Option<Value> {
    Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["execution.finished"]}))
}
fn quota_body() -> Option<Value> {
    // Generous: the matrix's own runs must never reach it.
    Some(json!({"max_active_runs": 100_000}))
}

const OPERATIONS: &[Operation] = &[
    op("GET", "/health", none, EVERYONE),
    op("GET", "/metrics", none, EVERYONE),
    op("GET", "/api/openapi.json", none, EVERYONE),
    op("GET", "/api/v1/auth/me", none, SIGNED_IN),
    op("GET", "/api/v1/audit-logs", none, SIGNED_IN),
    op("GET", "/api/v1/tasks", none, SIGNED_IN),
    op("POST", "/api/v1/tasks", task_body, SIGNED_IN),
    op("GET", "/api/v1/tasks/{task}", none, OWNER_OR_ADMIN),
    op("PATCH", "/api/v1/tasks/{task}", task_patch, OWNER_OR_ADMIN),
    op("DELETE", "/api/v1/tasks/{task}", none, OWNER_OR_ADMIN),
    op(
        "POST",
        "/api/v1/tasks/{task}/execute",
        execute_body,
        OWNER_OR_ADMIN,
    ),
    op(
        "GET",
        "/api/v1/tasks/{task}/executions",
        none,
        OWNER_OR_ADMIN,
    ),
    op(
        "POST",
        "/api/v1/tasks/{task}/webhook-secret",
        none,
        OWNER_OR_ADMIN,
    ),
    op(
        "GET",
        "/api/v1/task-executions/{execution}",
        none,
        OWNER_OR_ADMIN,
    ),
    op(
        "POST",
        "/api/v1/task-executions/{execution}/cancel",
        none,
        OWNER_OR_ADMIN,
    ),
    op("GET", "/api/v1/sessions", none, SIGNED_IN),
    op("POST", "/api/v1/sessions", session_body, SIGNED_IN),
    op("GET", "/api/v1/sessions/{session}", none, OWNER_OR_ADMIN),
    // The owned session has no conversation yet: the owner gets a 409, never a 404.
    op(
        "POST",
        "/api/v1/sessions/{session}/fork",
        fork_body,
        OWNER_OR_ADMIN,
    ),
    op(
        "POST",
        "/api/v1/sessions/{session}/messages",
        message_body,
        OWNER_OR_ADMIN,
    ),
    op(
        "GET",
        "/api/v1/sessions/{session}/messages",
        none,
        OWNER_OR_ADMIN,
    ),
    op(
        "GET",
        "/api/v1/sessions/{session}/tool-calls",
        none,
        OWNER_OR_ADMIN,
    ),
    // A transcript exists once the session's agent has run: `{ran}` is such a session.
    op(
        "GET",
        "/api/v1/sessions/{ran}/transcript",
        none,
        OWNER_OR_ADMIN,
    ),
    op(
        "POST",
        "/api/v1/sessions/{session}/interrupt",
        none,
        OWNER_OR_ADMIN,
    ),
    op(
        "POST",
        "/api/v1/sessions/{session}/terminate",
        none,
        OWNER_OR_ADMIN,
    ),
    op(
        "POST",
        "/api/v1/sessions/{session}/archive",
        none,
        OWNER_OR_ADMIN,
    ),
    op(
        "POST",
        "/api/v1/sessions/{session}/reports",
        report_body,
        OWNER_OR_ADMIN,
    ),
    op(
        "POST",
        "/api/v1/sessions/{session}/stream-token",
        none,
        OWNER_OR_ADMIN,
    ),
    op(
        "GET",
        "/api/v1/sessions/{session}/stream",
        none,
        OWNER_OR_ADMIN,
    ),
    op("GET", "/api/v1/approvals", none, SIGNED_IN),
    op(
        "GET",
        "/api/v1/sessions/{session}/approvals",
        none,
        OWNER_OR_ADMIN,
    ),
    // No approval is pending: the approval itself is missing for everyone.
    op(
        "POST",
        "/api/v1/sessions/{session}/approvals/{missing}",
        approval_body,
        NOBODY,
    ),
    op("GET", "/api/v1/reports/{report}", none, OWNER_OR_ADMIN),
    op(
        "GET",
        "/api/v1/reports/{report}/download",
        none,
        OWNER_OR_ADMIN,
    ),
    op("GET", "/api/v1/mcp-servers", none, SIGNED_IN),
    op("POST", "/api/v1/mcp-servers", mcp_body, SIGNED_IN),
    op("GET", "/api/v1/mcp-servers/{mcp}", none, OWNER_OR_ADMIN),
    op(
        "PATCH",
        "/api/v1/mcp-servers/{mcp}",
        mcp_patch,
        OWNER_OR_ADMIN,
    ),
    op("DELETE", "/api/v1/mcp-servers/{mcp}", none, OWNER_OR_ADMIN),
    op("GET", "/api/v1/task-executions", none, SIGNED_IN),
    op("GET", "/api/v1/notification-targets", none, SIGNED_IN),
    op(
        "POST",
        "/api/v1/notification-targets",
        target_body,
        SIGNED_IN,
    ),
    op(
        "GET",
        "/api/v1/notification-targets/{target}",
        none,
        OWNER_OR_ADMIN,
    ),
    op(
        "GET",
        "/api/v1/notification-targets/{target}/deliveries",
        none,
        OWNER_OR_ADMIN,
    ),
    op(
        "DELETE",
        "/api/v1/notification-targets/{target}",
        none,
        OWNER_OR_ADMIN,
    ),
    op("GET", "/api/v1/users", none, ADMIN),
    op("GET", "/api/v1/users/{user}/quota", none, OWNER_OR_ADMIN),
    op("PUT", "/api/v1/users/{user}/quota", quota_body, ADMIN),
];

/// The owner's resources for one cell.
struct Resources {
    task: String,
    execution: String,
    session: String,
    report: String,
    mcp: String,
    target: String,
    user: String,
    ran: String,
}

async fn created(api: &Api, path: &str, body: Value) -> Value {
    let (status, value) = api.json(Method::POST, path, Some(body)).await;
    assert!((200..300).contains(&status), "{path}: {status} {value}");
    value
}

async fn resources(owner: &Api, user: &str, ran: &str, cell: usize) -> Resources {
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let task = created(owner, "/api/v1/tasks", task_body().unwrap()).await;
    let execution = created(
        owner,
        &format!("/api/v1/tasks/{}/execute", id(&task)),
        json!({"variables": {}}),
    )
    .await;
    // Cancelled at once: the record is what the matrix needs, not a running agent.
    owner
        .json(
            Method::POST,
            &format!("/api/v1/task-executions/{}/cancel", id(&execution)),
            None,
        )
        .await;
    let session = created(owner, "/api/v1/sessions", json!({"name": "owned"})).await;
    let report = created(
        owner,
        &format!("/api/v1/sessions/{}/reports", id(&session)),
        json!({"format": "markdown"}),
    )
    .await;
    let mcp = created(
        owner,
        "/api/v1/mcp-servers",
        json!({"name": format!("owned-{cell}"), "config": {"type": "http", "url": "http://127.0.0.1:9/mcp"}}),
    )
    .await;
    let target = created(
        owner,
        "/api/v1/notification-targets",
        target_body().unwrap(),
    )
    .await;
    Resources {
        target: id(&target),
        task: id(&task),
        execution: id(&execution),
        session: id(&session),
        report: id(&report),
        mcp: id(&mcp),
        user: user.to_owned(),
        ran: ran.to_owned(),
    }
}

fn path_for(template: &str, owned: Option<&Resources>) -> String {
    let missing = uuid::Uuid::now_v7().to_string();
    let Some(r) = owned else {
        return PLACEHOLDERS.iter().fold(template.to_owned(), |path, name| {
            path.replace(name, &missing)
        });
    };
    template
        .replace("{task}", &r.task)
        .replace("{execution}", &r.execution)
        .replace("{session}", &r.session)
        .replace("{report}", &r.report)
        .replace("{mcp}", &r.mcp)
        .replace("{target}", &r.target)
        .replace("{user}", &r.user)
        .replace("{ran}", &r.ran)
        .replace("{missing}", &missing)
}

const PLACEHOLDERS: [&str; 9] = [
    "{target}",
    "{task}",
    "{execution}",
    "{session}",
    "{report}",
    "{mcp}",
    "{user}",
    "{ran}",
    "{missing}",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_every_cell_the_table_does_not_allow() {
    // Every cell opens fresh sessions for the owner: far more than the open-sessions cap.
    let Some(app) = spawn_with_agent_and(Db::Sqlite, |settings| {
        settings.max_open_sessions_per_user = u32::MAX;
    })
    .await
    else {
        return;
    };
    let base = app.url("");
    // The first account is the admin.
    let admin = Api::sign_up(&base, "admin@example.com").await;
    let owner = Api::sign_up(&base, "owner@example.com").await;
    let other = Api::sign_up(&base, "other@example.com").await;
    let anonymous = Api::new(base.clone());
    let (_, me) = owner.json(Method::GET, "/api/v1/auth/me", None).await;
    let owner_id = me["id"].as_str().unwrap().to_owned();
    let ran = created(&owner, "/api/v1/sessions", json!({"name": "ran"})).await;
    let ran = ran["id"].as_str().unwrap().to_owned();
    let (status, turn) = owner
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{ran}/messages"),
            Some(json!({"content": "authz matrix: one turn"})),
        )
        .await;
    assert!((200..300).contains(&status), "{turn}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (status, _) = owner
            .json(
                Method::GET,
                &format!("/api/v1/sessions/{ran}/transcript"),
                None,
            )
            .await;
        if status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no transcript: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let mut cells = 0;
    let mut wrong = Vec::new();
    for (index, operation) in OPERATIONS.iter().enumerate() {
        // A path naming a resource gets the missing column too.
        let targets: &[bool] = if operation.path.contains('{') {
            &[true, false]
        } else {
            &[true]
        };
        for &owned in targets {
            for &who in EVERYONE {
                let fresh = resources(&owner, &owner_id, &ran, index * 8 + cells).await;
                let path = path_for(operation.path, owned.then_some(&fresh));
                let caller = match who {
                    Who::Owner => &owner,
                    Who::Other => &other,
                    Who::Anonymous => &anonymous,
                    Who::Admin => &admin,
                };
                let method = Method::from_bytes(operation.method.as_bytes()).unwrap();
                let response = caller.call(method, &path, (operation.body)()).await;
                let status = response.status().as_u16();
                drop(response);
                cells += 1;
                let allowed = owned && operation.allowed.contains(&who);
                let expected: &[u16] = if allowed {
                    &[]
                } else if who == Who::Anonymous && operation.allowed != EVERYONE {
                    &[401]
                } else if operation.allowed == ADMIN && who != Who::Admin {
                    // Admin-only: refused alike whether the resource exists or not, so the
                    // answer leaks nothing.
                    &[403]
                } else {
                    &[404]
                };
                let fine = if allowed {
                    !matches!(status, 401 | 403 | 404) && status < 500
                } else {
                    expected.contains(&status)
                };
                if !fine {
                    wrong.push(format!(
                        "{} {} as {who:?} on {} resource: {status} (expected {})",
                        operation.method,
                        operation.path,
                        if owned { "the owner's" } else { "a missing" },
                        if allowed {
                            "allowed".to_owned()
                        } else {
                            format!("{expected:?}")
                        }
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(cells > 250, "{cells}");
}
