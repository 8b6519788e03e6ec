//! Process hygiene: the CLI runs in its own process group, dies with its parent (Linux), and
//! its whole group is killed when the session ends.
#![allow(unsafe_code)]

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Command;

/// Puts the child in a new process group and, on Linux, asks the kernel to kill it when the
/// thread that spawned it exits (tokio spawns from long-lived runtime worker threads).
pub fn isolate(command: &mut Command) {
    command.process_group(0).kill_on_drop(true);
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2), which
    // is async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
}

/// Kills every process in the group led by `pid` (the CLI and the tools it started).
pub fn kill_group(pid: u32) {
    let Ok(raw) = i32::try_from(pid) else { return };
    // ESRCH (already gone) is the expected outcome after a clean exit.
    let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
}
