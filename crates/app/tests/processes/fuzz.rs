//! Suite 1: schemathesis fuzzes the running server from its own OpenAPI document, signed in as
//! an admin, and must find no 5xx, no response that breaks the document's schemas, no request
//! the document forbids accepted, and no undeclared method answered other than 405.
//!
//! CI runs a short variant (`OVERSEER_FUZZ_EXAMPLES`, default 6 examples per operation, at
//! least 500 test cases); `just fuzz` runs the full suite (150 per operation, at least 5,000).
//! schemathesis comes from `.venv-fuzz` (`.ci/run` installs it from tests/fuzz/requirements.txt).

use std::path::{Path, PathBuf};
use std::time::Duration;

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::Api;

use crate::node::{Node, temp_dir};

fn schemathesis() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-fuzz/bin/schemathesis");
    if path.exists() {
        return Some(path);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !in_ci,
        "schemathesis is missing at {} under CI",
        path.display()
    );
    eprintln!(
        "skipping the API fuzz suite: {} is missing (python3 -m venv .venv-fuzz && \
         .venv-fuzz/bin/pip install -r tests/fuzz/requirements.txt)",
        path.display()
    );
    None
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_fuzzed_requests_without_5xx_or_schema_violations() {
    let Some(schemathesis) = schemathesis() else {
        return;
    };
    let examples = setting("OVERSEER_FUZZ_EXAMPLES", 6);
    let min_cases = setting("OVERSEER_FUZZ_MIN_CASES", 500);
    let data_dir = temp_dir("fuzz");
    let api = FakeAnthropic::start().await;
    // Agents fail at once (a stand-in CLI that only answers `--version`, so the node counts as
    // able to run agents): runs and messages end quickly, with a reason.
    let cli = overseer_testkit::cli::stand_in_cli(&data_dir);
    let node = Node::start(
        &data_dir,
        None,
        &cli,
        &api,
        &["--auth-attempts-per-minute", "1000000"],
    )
    .await;
    let admin = Api::sign_up(&node.base, "fuzz-admin@example.com").await;
    let token = admin.token.clone().unwrap();
    let run = tokio::process::Command::new(&schemathesis)
        .arg("run")
        .arg(format!("{}/api/openapi.json", node.base))
        .args(["--url", &node.base])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,negative_data_rejection,unsupported_method",
        ])
        .args(["--max-examples", &examples.to_string()])
        // One worker: with two threads, hypothesis' lambda descriptions race inside CPython
        // 3.11's `ast` module ("AST constructor recursion depth mismatch"), a crash of the tool
        // that reads as an error of the run.
        .args(["--workers", "1", "--no-color", "--seed", "1"])
        .args(["--request-timeout", "30"])
        // Login, register and refresh: their credentials are the request itself (bad_input and
        // abuse test them). The live stream never ends, so each case would wait out the
        // request timeout (tests/e2e/ws.rs and abuse.rs test it).
        .args([
            "--exclude-path-regex",
            r"^/api/v1/(auth/(login|register|refresh)|sessions/\{id\}/stream)$",
        ])
        .current_dir(&data_dir)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(1800), run)
        .await
        .expect("schemathesis finished within 30 minutes")
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&output.stdout);
    let summary = report
        .rfind("SUMMARY")
        .map_or(report.as_ref(), |at| &report[at..]);
    println!("{summary}");
    assert!(
        output.status.success(),
        "schemathesis found failures or errors:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cases: u64 = summary
        .lines()
        .find_map(|line| {
            let (generated, _) = line.trim().split_once(" generated,")?;
            generated.parse().ok()
        })
        .unwrap_or_else(|| panic!("no test case count in:\n{summary}"));
    assert!(
        cases >= min_cases,
        "only {cases} test cases (want ≥ {min_cases}):\n{summary}"
    );
    let log = node.log();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
}
