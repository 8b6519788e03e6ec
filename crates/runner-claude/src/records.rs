//! A node's record of the agents it started, kept as one file per agent in a directory of its
//! own, so that after a crash the next start can kill what the old instance left running.
//!
//! The CLI runs its Bash tools in sessions of their own, out of its process group, so a group
//! kill does not reach them. Each agent therefore gets a unique mark in its environment
//! ([`MARK_VAR`]), which every process it starts inherits; killing an agent's processes means
//! killing its group and every process carrying its mark (found through Linux `/proc`).
//!
//! A record also holds the leader's start time (`/proc/<pid>/stat`): a group is killed only if
//! its leader is gone or still the same process, never a newer process that reused the pid.

use std::io;
use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::process::kill_group;

/// The environment variable that marks every process of one agent.
pub const MARK_VAR: &str = "OVERSEER_AGENT_MARK";

/// A new, unique mark for an agent about to start.
#[must_use]
pub fn new_mark() -> String {
    format!("agent-{}", uuid::Uuid::new_v4().simple())
}

/// Kills every process whose environment carries `mark`; returns how many were signalled.
pub fn kill_marked(mark: &str) -> usize {
    let needle = format!("{MARK_VAR}={mark}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        // Unreadable (another user's process, or already gone): not ours.
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes())
        {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            killed += 1;
        }
    }
    killed
}

/// The directory of records (created on first use).
#[derive(Clone, Debug)]
pub struct ProcessRecords {
    dir: PathBuf,
}

impl ProcessRecords {
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn file(&self, pid: u32) -> PathBuf {
        self.dir.join(pid.to_string())
    }

    /// Records the agent just started as `pid` (its group's leader) with `mark`.
    ///
    /// # Errors
    /// The directory or file could not be written.
    pub fn record(&self, pid: u32, mark: &str) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let started = start_time(pid).unwrap_or_default();
        std::fs::write(self.file(pid), format!("{started} {mark}"))
    }

    /// Forgets the group led by `pid` (it has been killed or has ended).
    pub fn forget(&self, pid: u32) {
        let _ = std::fs::remove_file(self.file(pid));
    }

    /// Kills every process of the recorded agents and clears the records; returns how many
    /// processes or groups were signalled. Call once at start, before any agent is started.
    #[must_use]
    pub fn reap(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut killed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(pid) = pid_of(&path) else { continue };
            let recorded = std::fs::read_to_string(&path).unwrap_or_default();
            let (started, mark) = recorded.split_once(' ').unwrap_or((recorded.as_str(), ""));
            let now = start_time(pid);
            // Same leader, or leader gone (its tools may live on in the group).
            if now.is_none() || now.as_deref() == Some(started) {
                kill_group(pid);
                killed += 1;
            }
            if !mark.is_empty() {
                killed += kill_marked(mark);
            }
            let _ = std::fs::remove_file(&path);
        }
        killed
    }
}

fn pid_of(path: &Path) -> Option<u32> {
    path.file_name()?.to_str()?.parse().ok()
}

/// The process's start time in clock ticks since boot (field 22 of `/proc/<pid>/stat`), or
/// `None` when there is no such process (or no `/proc`).
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_owned)
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::Command;
    use std::time::{Duration, Instant};

    use super::*;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("overseer-records-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn wait_gone(child: &mut std::process::Child) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn reap_kills_a_recorded_group_and_clears_its_record() {
        let dir = temp_dir();
        let records = ProcessRecords::new(&dir);
        let mut leader = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        records.record(leader.id(), &new_mark()).unwrap();

        assert_eq!(ProcessRecords::new(&dir).reap(), 1);
        assert!(wait_gone(&mut leader), "the recorded group was killed");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn reap_spares_a_process_that_reused_the_pid() {
        let dir = temp_dir();
        let mut other = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        // A record for the same pid from an older process: a different start time.
        std::fs::write(dir.join(other.id().to_string()), "1").unwrap();

        assert_eq!(ProcessRecords::new(&dir).reap(), 0);
        assert!(
            other.try_wait().unwrap().is_none(),
            "the newer process lives"
        );
        other.kill().unwrap();
        other.wait().unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn reap_kills_marked_processes_outside_the_group() {
        let dir = temp_dir();
        let records = ProcessRecords::new(&dir);
        let mark = new_mark();
        let mut leader = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        // Like the CLI's Bash tool: a session of its own, the mark inherited.
        let mut tool = Command::new("sleep")
            .arg("30")
            .env(MARK_VAR, &mark)
            .process_group(0)
            .spawn()
            .unwrap();
        records.record(leader.id(), &mark).unwrap();
        // `spawn` returns once the child is in `execve`, before the kernel has published its
        // new environment in /proc (it did fail here 1 run in 3): wait until the mark shows.
        let environ = format!("/proc/{}/environ", tool.id());
        let needle = format!("{MARK_VAR}={mark}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !std::fs::read(&environ)
            .unwrap_or_default()
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes())
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the mark never showed"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }

        assert_eq!(records.reap(), 2);
        assert!(wait_gone(&mut leader));
        assert!(wait_gone(&mut tool), "the marked process was killed");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn forget_removes_the_record() {
        let dir = temp_dir();
        let records = ProcessRecords::new(&dir);
        let mut child = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        records.record(child.id(), &new_mark()).unwrap();
        records.forget(child.id());
        assert_eq!(records.reap(), 0);
        child.kill().unwrap();
        child.wait().unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn start_time_is_known_for_live_processes_only() {
        assert!(start_time(std::process::id()).is_some());
        assert_eq!(start_time(u32::MAX), None);
    }
}
