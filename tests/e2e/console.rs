//! The web console in a real browser: Playwright (`tests/browser/console.mjs`) drives Debian's
//! Chromium against the application running the real CLI with a scripted model.
//!
//! Needs `npm ci` (playwright-core) and Chromium (`/usr/bin/chromium`, or `CHROMIUM`); both
//! are installed by `.ci/run`. Without them the test is skipped locally and fails under CI.
//! `OVERSEER_WRITE_SCREENSHOTS=1` writes its screenshots to `docs/screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use overseer_e2e::{Db, spawn_with_agent, temp_data_dir};
use overseer_testkit::script::{Reply, Script, long_running_command};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The browser and Playwright, or `None` (with the reason printed) when either is missing
/// outside CI.
fn browser() -> Option<PathBuf> {
    let chromium = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let playwright = repo_root().join("node_modules/playwright-core/package.json");
    let missing: Vec<String> = [
        (&chromium, "Chromium (apt-get install chromium)"),
        (&playwright, "playwright-core (npm ci)"),
    ]
    .into_iter()
    .filter(|(path, _)| !path.exists())
    .map(|(path, what)| format!("{what} at {}", path.display()))
    .collect();
    if missing.is_empty() {
        return Some(chromium);
    }
    assert!(
        !in_ci(),
        "browser tests need {} under CI",
        missing.join(" and ")
    );
    eprintln!(
        "skipping the browser test: missing {}",
        missing.join(" and ")
    );
    None
}

fn scripts() -> Vec<Script> {
    vec![
        // Long enough a tool for the page to show the run while it is going.
        Script::new(
            "production cluster",
            vec![
                Reply::bash(&format!(
                    "{}; echo 'api-0 1/1 Running'; echo 'web-0 1/1 Running'",
                    long_running_command(3)
                )),
                Reply::text("## Summary\n\nAll pods in **production** are healthy."),
            ],
        ),
        Script::new(
            "hello console",
            vec![Reply::text("Hi from the console agent.")],
        ),
        Script::new(
            "Deploy the web service",
            vec![
                Reply::bash("echo deployed web"),
                Reply::text("Deployed web."),
            ],
        ),
        Script::new(
            "Deploy the api service",
            vec![
                Reply::bash("echo deployed api"),
                Reply::text("Deployed api."),
            ],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_runs_the_seed_flow_and_approvals_in_chromium() {
    let Some(chromium) = browser() else {
        return;
    };
    let Some(app) = spawn_with_agent(Db::Sqlite).await else {
        return;
    };
    for script in scripts() {
        app.api.as_ref().unwrap().script(script);
    }
    let screenshots = if std::env::var_os("OVERSEER_WRITE_SCREENSHOTS").is_some() {
        repo_root().join("docs/screenshots")
    } else {
        temp_data_dir()
    };
    let mut node = tokio::process::Command::new("node");
    node.arg(repo_root().join("tests/browser/console.mjs"))
        .current_dir(repo_root())
        .env("OVERSEER_URL", app.url(""))
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOTS", &screenshots)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(300), node.output())
        .await
        .expect("the browser test ends within 5 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser test failed ({}; screenshots in {}):\n{stdout}\n{stderr}",
        output.status,
        screenshots.display()
    );
    assert!(stdout.contains("console: all steps passed"), "{stdout}");
    for shot in [
        "task-form.png",
        "live-session.png",
        "approvals.png",
        "phone-approval.png",
    ] {
        assert!(screenshots.join(shot).exists(), "{shot} was taken");
    }
}
