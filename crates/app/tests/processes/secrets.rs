//! Secrets: the seed scenario runs with a recognizable API key, JWT secret and password. None
//! of them appears in any log line (JSON logs at debug level), API response (bodies and
//! headers), report file or database column (the SQLite file and its WAL, read as bytes), and
//! no response carries a password hash.

use std::path::Path;
use std::time::Duration;

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::script::{Reply, Script};
use serde_json::{Value, json};

use crate::node::{Node, temp_dir};

const API_KEY: &str = "sk-ant-CANARY-apikey-5f1c9e27b4";
const JWT_SECRET: &str = "CANARY-jwt-secret-8d2b7a41c09e5f3d";
const PASSWORD: &str = "CANARY-password-3e8a1f";

/// Every response seen, as text: status line, headers and body.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    async fn call(&mut self, api: &Api, method: Method, path: &str, body: Option<Value>) -> Value {
        let response = api.call(method.clone(), path, body).await;
        let mut text = format!("{method} {path} -> {}\n", response.status());
        for (name, value) in response.headers() {
            text.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        let body = response.text().await.unwrap();
        text.push_str(&body);
        self.0.push(text);
        serde_json::from_str(&body).unwrap_or(Value::String(body))
    }
}

/// Every file under `dir`, as bytes.
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            found.push((path.display().to_string(), bytes));
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_run_on_sqlite_leaves_no_secret_anywhere() {
    seed_run_leaves_no_secret(None).await;
}

/// On Postgres, every column of every row is searched too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_run_on_postgres_leaves_no_secret_anywhere() {
    let Some(database) = overseer_store::testing::postgres().await else {
        return;
    };
    seed_run_leaves_no_secret(Some(database)).await;
}

async fn seed_run_leaves_no_secret(
    postgres: Option<(
        overseer_store::Store,
        overseer_store::testing::PostgresGuard,
    )>,
) {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    api.script(Script::new(
        "production cluster",
        vec![
            Reply::bash("echo 'api-0 1/1 Running'"),
            Reply::text("All pods in production are healthy."),
        ],
    ));
    let data_dir = temp_dir("secrets");
    let database_url = postgres
        .as_ref()
        .map(|(store, _)| store.connection_url().to_owned());
    let node = Node::start_with_env(
        &data_dir,
        database_url.as_deref(),
        &cli,
        &api,
        &["--log-format", "json"],
        &[
            ("ANTHROPIC_API_KEY", API_KEY),
            ("OVERSEER_JWT_SECRET", JWT_SECRET),
            ("RUST_LOG", "debug"),
        ],
    )
    .await;
    let mut seen = Seen::default();
    let mut alice = Api::new(node.base.clone());
    let credentials = json!({"email": "alice@example.com", "password": PASSWORD});
    let user = seen
        .call(
            &alice,
            Method::POST,
            "/api/v1/auth/register",
            Some(credentials.clone()),
        )
        .await;
    let tokens = seen
        .call(
            &alice,
            Method::POST,
            "/api/v1/auth/login",
            Some(credentials),
        )
        .await;
    alice.token = Some(tokens["access_token"].as_str().unwrap().to_owned());
    let refreshed = json!({"refresh_token": tokens["refresh_token"]});
    seen.call(
        &alice,
        Method::POST,
        "/api/v1/auth/refresh",
        Some(refreshed),
    )
    .await;
    seen.call(&alice, Method::GET, "/api/v1/auth/me", None)
        .await;

    let task = seen
        .call(
            &alice,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({
                "name": "Kubernetes Cluster Health Check",
                "prompt_template": "Check the health of the {cluster_name} cluster.",
                "variables": [{"name": "cluster_name", "type": "string"}],
                "sdk_options": {"allowed_tools": ["Bash(echo:*)"], "max_turns": 5},
                "generate_report": true,
                "report_format": "markdown"
            })),
        )
        .await;
    let task_id = task["id"].as_str().unwrap().to_owned();
    let queued = seen
        .call(
            &alice,
            Method::POST,
            &format!("/api/v1/tasks/{task_id}/execute"),
            Some(json!({"variables": {"cluster_name": "production"}})),
        )
        .await;
    let execution_path = format!("/api/v1/task-executions/{}", queued["id"].as_str().unwrap());
    let run = alice
        .poll(&execution_path, Duration::from_secs(120), |run| {
            run["status"] == json!("completed") || run["status"] == json!("failed")
        })
        .await;
    assert_eq!(run["status"], json!("completed"), "{run}");
    let session = run["session_id"].as_str().unwrap().to_owned();
    let report = run["report_id"].as_str().unwrap().to_owned();
    let user_id = user["id"].as_str().unwrap().to_owned();
    for path in [
        execution_path.clone(),
        format!("/api/v1/tasks/{task_id}"),
        "/api/v1/tasks".to_owned(),
        format!("/api/v1/tasks/{task_id}/executions"),
        "/api/v1/sessions".to_owned(),
        format!("/api/v1/sessions/{session}"),
        format!("/api/v1/sessions/{session}/messages"),
        format!("/api/v1/sessions/{session}/tool-calls"),
        format!("/api/v1/sessions/{session}/transcript"),
        format!("/api/v1/reports/{report}"),
        format!("/api/v1/reports/{report}/download"),
        "/api/v1/audit-logs".to_owned(),
        format!("/api/v1/users/{user_id}/quota"),
        "/api/v1/mcp-servers".to_owned(),
        "/health".to_owned(),
        "/metrics".to_owned(),
        "/api/openapi.json".to_owned(),
    ] {
        seen.call(&alice, Method::GET, &path, None).await;
    }
    assert!(
        seen.0.iter().any(|r| r.contains("api-0 1/1 Running")),
        "the run's output was read back"
    );

    let secrets = [API_KEY, JWT_SECRET, PASSWORD];
    for response in &seen.0 {
        for secret in secrets {
            assert!(
                !response.contains(secret),
                "{secret} in a response: {response}"
            );
        }
        assert!(
            !response.contains("$argon2"),
            "a password hash in: {response}"
        );
    }
    let log = node.log();
    assert!(log.lines().count() > 20, "debug logs were written: {log}");
    for secret in secrets {
        assert!(!log.contains(secret), "{secret} in the log");
    }
    // Reports, the database (and its WAL) and every other file the service wrote, except the
    // agent's own home and configuration (the CLI's, not the service's) and the generated JWT
    // secret file (unused here: the secret came from the environment).
    let ours: Vec<(String, Vec<u8>)> = files_under(&data_dir)
        .into_iter()
        .filter(|(path, _)| !path.contains("/agent-home/") && !path.contains("/claude-config/"))
        .collect();
    match &postgres {
        None => assert!(
            ours.iter().any(|(path, _)| path.ends_with("overseer.db")),
            "the database file was searched: {:?}",
            ours.iter().map(|(p, _)| p).collect::<Vec<_>>()
        ),
        Some((store, _)) => {
            let rows = overseer_store::testing::postgres_rows_as_text(store).await;
            assert!(
                rows.iter().any(|row| row.contains("api-0 1/1 Running")),
                "the run's rows were searched"
            );
            for row in &rows {
                for secret in secrets {
                    assert!(!row.contains(secret), "{secret} in the database: {row}");
                }
            }
        }
    }
    assert!(ours.iter().any(|(path, _)| path.contains("/reports/")));
    for (path, bytes) in &ours {
        for secret in secrets {
            assert!(!contains(bytes, secret), "{secret} in {path}");
        }
    }
}
