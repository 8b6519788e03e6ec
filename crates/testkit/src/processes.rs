//! The machine's processes as tests and benchmarks see them, from `/proc`.

use std::path::Path;

/// A process's state letter and process group, from `/proc/<pid>/stat`.
#[must_use]
pub fn state_and_group(pid: u32) -> Option<(String, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(((*fields.first()?).to_owned(), fields.get(2)?.parse().ok()?))
}

/// Every live (not zombie) process, as pids.
fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
}

/// Processes whose process group is `pgid`, zombies left out.
#[must_use]
pub fn processes_in_group(pgid: u32) -> Vec<u32> {
    pids()
        .filter(|&pid| {
            state_and_group(pid).is_some_and(|(state, group)| group == pgid && state != "Z")
        })
        .collect()
}

/// The agents (Claude CLIs, real or fake) running with their working directory under `dir`,
/// one per process group (each agent leads its own; a CLI's short-lived forks share it), as
/// (group, command line). A `bwrap` sandbox around a CLI is not counted apart from it.
#[must_use]
pub fn agent_groups_under(dir: &Path) -> Vec<(u32, String)> {
    let mut groups: Vec<(u32, String)> = pids()
        .filter_map(|pid| {
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let (state, group) = state_and_group(pid)?;
            let agent = cwd.starts_with(dir)
                && state != "Z"
                && cmdline.contains("stream-json")
                && !cmdline.starts_with("bwrap");
            agent.then_some((group, cmdline))
        })
        .collect();
    groups.sort_unstable();
    groups.dedup_by_key(|(group, _)| *group);
    groups
}
