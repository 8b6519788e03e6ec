//! Finding the Claude Code CLI at start-up and asking its version, so that a node without a
//! working CLI says so (and how to fix it) before anybody runs a task on it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::lookup::find_on_path;

/// The project's own CLI, installed by `npm ci` from the committed lockfile, relative to the
/// directory the service runs in (a clone's root under `cargo run`).
pub const PROJECT_CLI: &str = "node_modules/.bin/claude";

/// A CLI that answered `--version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliFound {
    /// Where it is (absolute when found through `PATH` or the project).
    pub path: PathBuf,
    /// What `--version` printed, e.g. `2.1.197 (Claude Code)`.
    pub version: String,
}

/// The oldest CLI version the compatibility run passed on (docs/compatibility.md).
pub const OLDEST_TESTED_VERSION: &str = "2.1.197";

impl CliFound {
    /// Whether this CLI is older than [`OLDEST_TESTED_VERSION`]; `false` when its version
    /// cannot be read (nothing to compare).
    #[must_use]
    pub fn older_than_tested(&self) -> bool {
        match (numbers(&self.version), numbers(OLDEST_TESTED_VERSION)) {
            (Some(found), Some(oldest)) => found < oldest,
            _ => false,
        }
    }
}

/// `2.1.197 (Claude Code)` → `[2, 1, 197]`.
fn numbers(version: &str) -> Option<Vec<u64>> {
    let first = version.split_whitespace().next()?;
    first.split('.').map(|part| part.parse().ok()).collect()
}

/// Why no usable CLI was found. The messages say how to fix it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CliCheckError {
    #[error(
        "the Claude Code CLI was not found (looked for {looked}): run `npm ci` in the project \
         directory, install it (`npm install -g @anthropic-ai/claude-code`), or pass \
         --claude-binary /path/to/claude"
    )]
    NotFound { looked: String },
    #[error(
        "the Claude Code CLI at {path} does not work (`--version`: {reason}): reinstall it \
         (`npm ci`) or pass --claude-binary /path/to/a/working/claude"
    )]
    Broken { path: String, reason: String },
}

/// Where the CLI is: `configured` itself when it names a path (`/opt/claude`, `./claude`);
/// for a bare name (the default `claude`), the first on `PATH`, then the project's own
/// [`PROJECT_CLI`] under `dir`.
///
/// # Errors
/// [`CliCheckError::NotFound`] naming every place looked at.
pub fn locate_cli(configured: &Path, dir: &Path) -> Result<PathBuf, CliCheckError> {
    if configured.components().count() != 1 {
        return if configured.is_file() {
            Ok(configured.to_path_buf())
        } else {
            Err(CliCheckError::NotFound {
                looked: configured.display().to_string(),
            })
        };
    }
    if let Some(found) = find_on_path(configured) {
        return Ok(found);
    }
    let project = dir.join(PROJECT_CLI);
    if project.is_file() {
        return Ok(project.canonicalize().unwrap_or(project));
    }
    Err(CliCheckError::NotFound {
        looked: format!(
            "`{}` on PATH and {}",
            configured.display(),
            project.display()
        ),
    })
}

/// Runs `<path> --version` (at most `timeout`) and returns its first line.
///
/// # Errors
/// [`CliCheckError::Broken`] when it cannot run, fails, times out or prints nothing.
pub async fn cli_version(path: &Path, timeout: Duration) -> Result<String, CliCheckError> {
    let broken = |reason: String| CliCheckError::Broken {
        path: path.display().to_string(),
        reason,
    };
    let run = tokio::process::Command::new(path)
        .arg("--version")
        .env("DISABLE_TELEMETRY", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| broken(format!("no answer within {} s", timeout.as_secs())))?
        .map_err(|err| broken(err.to_string()))?;
    let first_line = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    if !output.status.success() {
        let said = first_line(&output.stderr);
        return Err(broken(
            format!("{} {said}", output.status).trim().to_owned(),
        ));
    }
    let version = first_line(&output.stdout);
    if version.is_empty() {
        return Err(broken("it printed nothing".to_owned()));
    }
    Ok(version)
}

/// [`locate_cli`], then [`cli_version`] with a 20 s bound.
///
/// # Errors
/// As those two.
pub async fn check_cli(configured: &Path, dir: &Path) -> Result<CliFound, CliCheckError> {
    let path = locate_cli(configured, dir)?;
    let version = cli_version(&path, Duration::from_secs(20)).await?;
    Ok(CliFound { path, version })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn versions_older_than_the_oldest_tested_are_told_apart() {
        let found = |version: &str| CliFound {
            path: PathBuf::from("claude"),
            version: version.to_owned(),
        };
        assert!(found("2.1.196 (Claude Code)").older_than_tested());
        assert!(found("2.0.999").older_than_tested());
        assert!(!found("2.1.197 (Claude Code)").older_than_tested());
        assert!(!found("2.1.332 (Claude Code)").older_than_tested());
        assert!(!found("10.0.0").older_than_tested());
        assert!(!found("not a version").older_than_tested());
    }

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn temp(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cli-check-{label}-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn the_projects_own_cli_is_found_and_its_version_read() {
        let dir = temp("project");
        script(&dir, PROJECT_CLI, "echo '9.9.9 (Claude Code)'");
        let found = check_cli(Path::new("no-such-claude-binary"), &dir)
            .await
            .unwrap();
        assert_eq!(found.version, "9.9.9 (Claude Code)");
        assert!(found.path.ends_with(PROJECT_CLI), "{found:?}");
    }

    #[tokio::test]
    async fn a_missing_cli_says_where_it_looked_and_how_to_fix_it() {
        let dir = temp("missing");
        let err = check_cli(Path::new("no-such-claude-binary"), &dir)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, CliCheckError::NotFound { .. }));
        assert!(
            text.contains("npm ci") && text.contains("--claude-binary"),
            "{text}"
        );
        assert!(text.contains("node_modules/.bin/claude"), "{text}");
        // An explicit path is taken as given, never replaced by another CLI.
        script(&dir, PROJECT_CLI, "echo 1");
        let err = locate_cli(&dir.join("elsewhere/claude"), &dir).unwrap_err();
        assert!(matches!(err, CliCheckError::NotFound { .. }));
    }

    #[tokio::test]
    async fn a_failing_cli_is_broken_with_its_reason() {
        let dir = temp("broken");
        let path = script(&dir, "claude", "echo 'cannot find module' >&2; exit 3");
        let err = check_cli(&path, &dir).await.unwrap_err();
        assert!(
            matches!(&err, CliCheckError::Broken { reason, .. } if reason.contains("cannot find module")),
            "{err}"
        );
    }
}
