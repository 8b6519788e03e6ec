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

/// A stand-in for the CLI in `dir`, for servers under test that must count as able to run
/// agents without running any: it answers `--version` and fails every agent start at once
/// (runs and messages end quickly, with a reason).
///
/// # Panics
/// If the script cannot be written.
#[must_use]
pub fn stand_in_cli(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("stand-in-claude");
    std::fs::create_dir_all(dir).expect("create the stand-in's directory");
    std::fs::write(
        &path,
        "#!/bin/sh\n[ \"$1\" = --version ] && { echo '0.0.0 (stand-in)'; exit 0; }\nexit 1\n",
    )
    .expect("write the stand-in CLI");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("make the stand-in CLI executable");
    path
}
