//! Where the real Claude Code CLI is: `OVERSEER_CLAUDE_BIN`, or the one `npm ci` installs at
//! the workspace root.

use std::path::{Path, PathBuf};

/// The CLI's path, whether or not it exists.
#[must_use]
pub fn real_cli_path() -> PathBuf {
    std::env::var_os("OVERSEER_CLAUDE_BIN").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/.bin/claude"),
        PathBuf::from,
    )
}

/// The real CLI, or `None` when it is missing outside CI (tests needing it are skipped).
///
/// # Panics
/// Under CI (`CI=true`) when it is missing: there a skip would hide a broken set-up.
#[must_use]
pub fn real_cli() -> Option<PathBuf> {
    let path = real_cli_path();
    if path.exists() {
        return Some(path.canonicalize().unwrap_or(path));
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !in_ci,
        "the real Claude CLI is missing at {} under CI (run `npm ci`)",
        path.display()
    );
    eprintln!(
        "skipping a real-CLI test: {} is missing (run `npm ci`)",
        path.display()
    );
    None
}
