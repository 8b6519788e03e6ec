//! Log lines as operators read them: written to a file (not a terminal), they carry no ANSI
//! escape; `--log-format json` writes one JSON object per line.

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::{Api, Method};

use crate::node::{Node, temp_dir};

/// Starts a node logging at `info` with `flags`, makes a few requests, and returns its log.
async fn log_of(label: &str, flags: &[&str]) -> Option<String> {
    let cli = overseer_testkit::cli::real_cli()?;
    let api = FakeAnthropic::start().await;
    let data_dir = temp_dir(label);
    let node =
        Node::start_with_env(&data_dir, None, &cli, &api, flags, &[("RUST_LOG", "info")]).await;
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let (status, _) = alice.json(Method::GET, "/api/v1/tasks", None).await;
    assert_eq!(status, 200);
    let (status, _) = alice
        .json(Method::GET, "/api/v1/tasks/not-a-uuid", None)
        .await;
    assert_eq!(status, 400);
    Some(node.log())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_written_to_a_file_has_no_escape_byte() {
    let Some(log) = log_of("logs-text", &[]).await else {
        return;
    };
    assert!(log.lines().count() >= 3, "{log}");
    assert!(log.contains(" INFO "), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escapes in a log file: {log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let Some(log) = log_of("logs-json", &["--log-format", "json"]).await else {
        return;
    };
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{log}");
    for line in lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value["level"].is_string(), "{line}");
    }
    assert!(!log.contains('\u{1b}'));
}
