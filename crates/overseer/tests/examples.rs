//! The examples run as a new user runs them: `embed` against the fake Anthropic API with the
//! real CLI, twice in a row on the same data directory; `wrap_runner` likewise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::script::{Reply, Script};

/// The compiled example `name` (cargo builds examples with the tests).
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let profile = deps.parent().unwrap().parent().unwrap();
    let path = profile.join("examples").join(name);
    assert!(path.exists(), "{} is not built", path.display());
    path
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("overseer-example-{}", uuid_like()));
    std::fs::create_dir_all(dir.join("home")).unwrap();
    dir
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Runs `binary` from the workspace root as a user would, with the real CLI first on `PATH`
/// and the API at `api`.
async fn run(binary: &Path, cli: &Path, api: &FakeAnthropic, dir: &Path) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = format!(
        "{}:{}",
        cli.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    tokio::process::Command::new(binary)
        .current_dir(root)
        .env("PATH", path)
        .env("HOME", dir.join("home"))
        .env("CLAUDE_CONFIG_DIR", dir.join("claude-config"))
        .env("CLAUDE_CODE_MAX_RETRIES", "0")
        .env("ANTHROPIC_BASE_URL", api.base_url())
        .env("ANTHROPIC_API_KEY", "sk-ant-example-not-real")
        .env("OVERSEER_DATA_DIR", dir.join("data"))
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap()
}

fn health_check_script() -> Script {
    Script::new(
        "Health check of the production cluster",
        vec![
            Reply::bash("echo 'production: 3 nodes Ready'"),
            Reply::text("The production cluster is healthy: 3 nodes Ready."),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embed_runs_the_health_check_end_to_end_and_again() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    api.script(health_check_script());
    let dir = temp_dir();
    let binary = example("embed");
    for attempt in 1..=2 {
        let output = run(&binary, &cli, &api, &dir).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "run {attempt} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        println!("--- run {attempt}\n{stdout}");
        assert!(stdout.contains(": completed"), "{stdout}");
        assert!(stdout.contains("event: message"), "{stdout}");
        assert!(
            stdout.contains("Bash completed") && stdout.contains("3 nodes Ready"),
            "{stdout}"
        );
        assert!(stdout.contains("healthy"), "{stdout}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrap_runner_counts_the_agents_it_starts() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    api.script(Script::new(
        "Say hello",
        vec![Reply::text("Hello from a wrapped runner.")],
    ));
    let dir = temp_dir();
    let output = run(&example("wrap_runner"), &cli, &api, &dir).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("agents started: 1"), "{stdout}");
    assert!(stdout.contains("Hello from a wrapped runner."), "{stdout}");
    std::fs::remove_dir_all(dir).ok();
}
