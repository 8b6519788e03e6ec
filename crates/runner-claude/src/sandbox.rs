//! The agent's sandbox: bubblewrap (`bwrap`) namespaces around the CLI, so that its tools see
//! the machine read-only, their own session's directory read-write, and nothing of the service:
//! not its data directory (database, other sessions, reports), not its user's home, not its
//! processes (`/proc` of a new PID namespace, so no `/proc/<service>/environ` either).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// How to wrap the CLI in bubblewrap.
#[derive(Clone, Debug)]
pub struct Sandbox {
    /// The `bwrap` executable.
    pub bwrap: PathBuf,
    /// Paths the agent must not read: directories are replaced by an empty one, files by an
    /// empty file (the service's data directory, its configuration file, what the operator
    /// names). Paths that do not exist are skipped.
    pub hidden: Vec<PathBuf>,
}

/// What one agent may reach inside its sandbox.
pub(crate) struct Reach<'a> {
    /// The CLI itself: its install tree stays readable even where it lies in a hidden tree.
    pub binary: &'a Path,
    pub working_directory: &'a Path,
    /// The session's own CLI configuration (and home) directory.
    pub config_dir: Option<&'a Path>,
    /// Extra directories the task's options grant (`add_dirs`).
    pub extra_dirs: Vec<&'a Path>,
}

impl Sandbox {
    /// Whether `bwrap` can create its namespaces here (it cannot in some containers).
    #[must_use]
    pub fn works(bwrap: &Path) -> bool {
        std::process::Command::new(bwrap)
            .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
            .args(["--unshare-pid", "--die-with-parent", "true"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// `bwrap`'s arguments, up to and including the `--` before the CLI's command line.
    pub(crate) fn args(&self, reach: &Reach<'_>) -> Vec<OsString> {
        let mut args: Vec<OsString> = [
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            // Temporary files of the CLI and its tools: private to this agent.
            "--tmpfs",
            "/tmp",
        ]
        .map(OsString::from)
        .to_vec();
        // Extra directories first, so that hiding still wins where one contains a hidden path
        // (a root above the data directory must not expose the database). A missing one is
        // left to the CLI to report, as without the sandbox.
        for dir in reach.extra_dirs.iter().filter(|dir| dir.exists()) {
            args.extend(["--bind".into(), dir.into(), dir.into()]);
        }
        for hidden in &self.hidden {
            if hidden.is_dir() {
                args.extend(["--tmpfs".into(), hidden.into()]);
            } else if hidden.exists() {
                args.extend(["--ro-bind".into(), "/dev/null".into(), hidden.into()]);
            }
        }
        // Then what this agent needs, even inside a hidden tree.
        let install = install_root(reach.binary);
        args.extend(["--ro-bind".into(), install.clone().into(), install.into()]);
        for dir in std::iter::once(reach.working_directory).chain(reach.config_dir) {
            args.extend(["--bind".into(), dir.into(), dir.into()]);
        }
        args.extend(["--chdir".into(), reach.working_directory.into()]);
        args.push("--".into());
        args
    }
}

/// The tree the CLI is installed in: its `node_modules` (an npm install runs files from all
/// over it), or else the directory of the resolved binary.
fn install_root(binary: &Path) -> PathBuf {
    let resolved = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
    resolved
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "node_modules"))
        .or_else(|| resolved.parent())
        .unwrap_or(&resolved)
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn hidden_paths_are_emptied_before_the_sessions_own_directories_are_bound_back() {
        let root = std::env::temp_dir().join(format!("sandbox-args-{}", std::process::id()));
        let data = root.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let config_file = root.join("overseer.toml");
        std::fs::write(&config_file, "jwt_secret = '…'").unwrap();
        let sandbox = Sandbox {
            bwrap: "bwrap".into(),
            hidden: vec![data.clone(), config_file.clone(), root.join("missing")],
        };
        let workdir = data.join("agent-workdirs/active/s1");
        let config_dir = data.join("agent-config/s1");
        let args = pairs(&sandbox.args(&Reach {
            binary: Path::new("/opt/cli/claude"),
            working_directory: &workdir,
            config_dir: Some(&config_dir),
            extra_dirs: vec![Path::new("/srv/shared"), root.as_path()],
        }));
        let text = |path: &Path| path.display().to_string();
        let at = |flag: &str, path: &str| {
            args.windows(2)
                .position(|w| w[0] == flag && w[1] == path)
                .unwrap_or_else(|| panic!("{flag} {path} in {args:?}"))
        };
        let hidden = at("--tmpfs", &text(&data));
        assert!(hidden > at("--ro-bind", "/"));
        assert!(at("/dev/null", &text(&config_file)) > at("--ro-bind", "/"));
        assert!(!args.contains(&text(&root.join("missing"))));
        assert!(
            !args.contains(&"/srv/shared".to_owned()),
            "a missing extra dir is skipped"
        );
        assert!(
            at("--bind", &text(&root)) < hidden,
            "an extra dir above the data dir does not expose it"
        );
        for own in [text(&workdir), text(&config_dir)] {
            assert!(
                at("--bind", &own) > hidden,
                "{own} is bound after the data dir is hidden"
            );
        }
        assert!(at("--ro-bind", "/opt/cli") > hidden);
        assert_eq!(args.last().map(String::as_str), Some("--"));
        assert!(args.contains(&"--unshare-pid".to_owned()));
        assert!(
            !args.iter().any(|a| a.starts_with("--unshare-net")),
            "the agent needs its API"
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn an_npm_install_is_bound_whole() {
        let root = std::env::temp_dir().join(format!("sandbox-root-{}", std::process::id()));
        let bin = root.join("node_modules/.bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("claude"), "").unwrap();
        assert_eq!(
            install_root(&bin.join("claude")),
            std::fs::canonicalize(root.join("node_modules")).unwrap()
        );
        assert_eq!(
            install_root(Path::new("/opt/cli/claude")),
            Path::new("/opt/cli")
        );
        std::fs::remove_dir_all(root).unwrap();
    }
}
