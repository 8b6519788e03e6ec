//! Agents that never outlive the service, also without the sandbox.
//!
//! The CLI already gets `PR_SET_PDEATHSIG` (SIGKILL), but the tools it starts (`bash -c …`, a
//! build, a `sleep`) do not: if the service is SIGKILLed they would run on until the next start
//! reaps them. Without bubblewrap (which does the same with `--unshare-pid --die-with-parent`),
//! the CLI runs as the first process of a PID namespace of its own, through util-linux
//! `unshare --pid --fork --kill-child`: the service's death kills `unshare` (its death signal),
//! that kills the CLI (`--kill-child`), and the kernel ends every other process of a PID
//! namespace whose first process ends. A PID namespace was chosen over a cgroup with
//! `cgroup.kill` (needs a delegated cgroup, rarely granted to a service) and over a supervisor
//! process of our own (one more binary to ship, and its own death would need the same care).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::lookup::find_on_path;

/// Runs the agent in a PID namespace of its own with `unshare`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Containment {
    unshare: PathBuf,
    /// Unprivileged: a user namespace mapping the service's own user first.
    user_namespace: bool,
}

impl Containment {
    /// `unshare` from `PATH`, in the first form that works here (plain as root, else inside a
    /// user namespace); `None` when none does (no util-linux, or namespaces are not allowed).
    #[must_use]
    pub fn detect() -> Option<Self> {
        let unshare = find_on_path(Path::new("unshare"))?;
        [false, true]
            .into_iter()
            .map(|user_namespace| Self {
                unshare: unshare.clone(),
                user_namespace,
            })
            .find(Self::works)
    }

    fn works(&self) -> bool {
        Command::new(&self.unshare)
            .args(self.args())
            .arg("true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// The `unshare` binary.
    #[must_use]
    pub fn program(&self) -> &Path {
        &self.unshare
    }

    /// `unshare`'s arguments, up to and including the `--` before the CLI's command line.
    #[must_use]
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        if self.user_namespace {
            args.extend(["--user", "--map-current-user"].map(OsString::from));
        }
        // A /proc of its own: the agent's tools see only the agent's processes.
        args.extend(["--pid", "--fork", "--kill-child", "--mount-proc", "--"].map(OsString::from));
        args
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_detected_containment_runs_a_command_as_the_first_process_of_its_namespace() {
        let Some(containment) = Containment::detect() else {
            // Namespaces are not allowed here: the runner falls back to death signals.
            return;
        };
        let output = Command::new(containment.program())
            .args(containment.args())
            .args(["sh", "-c", "echo $$"])
            .output()
            .unwrap();
        assert!(output.status.success());
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "1");
    }
}
