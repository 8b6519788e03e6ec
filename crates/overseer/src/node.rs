//! What a node keeps in its data directory and finds on its machine: the directory itself, its
//! persistent node id, the JWT secret, the agents' sandbox and process containment.

use std::path::{Path, PathBuf};

use overseer_ports::agent::Secret;
use overseer_runner_claude::{Containment, Sandbox, find_on_path};

use crate::error::StartError;

/// Whether agents run sandboxed (bubblewrap).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SandboxMode {
    /// Sandboxed where `bwrap` is installed and works; otherwise unsandboxed, with a warning.
    #[default]
    Auto,
    /// Always sandboxed: agents do not run without a working `bwrap` (the node says so on
    /// its health, and runs are refused).
    On,
    /// Never sandboxed.
    Off,
}

/// The data directory, created and made absolute (agents run in directories under it).
pub(crate) fn data_dir(configured: &Path) -> Result<PathBuf, StartError> {
    let failed = |source| StartError::DataDir {
        path: configured.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(configured).map_err(failed)?;
    configured.canonicalize().map_err(failed)
}

/// This node's name in execution leases, kept in the data directory so that a restart after a
/// crash is recognised as the same node and settles its runs at once. Each node needs its own
/// data directory.
pub(crate) fn node_id(data_dir: &Path) -> Result<String, StartError> {
    let path = data_dir.join("node-id");
    let failed = |source| StartError::DataDir {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
        Ok(_) => return Err(failed(std::io::Error::other("the stored node id is empty"))),
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(failed(err)),
        Err(_) => {}
    }
    let id = format!("node-{}", uuid::Uuid::new_v4().simple());
    write_private(&path, &id).map_err(failed)?;
    Ok(id)
}

/// The secret kept in the data directory for signing tokens (generated on first use, readable
/// by the owner only). There is no built-in fallback.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn stored_jwt_secret(data_dir: &Path) -> Result<Secret, StartError> {
    let path = data_dir.join("jwt-secret");
    let failed = |source| StartError::DataDir {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 32 => return Ok(Secret::new(secret.trim())),
        Ok(_) | Err(_) if path.exists() => {
            return Err(failed(std::io::Error::other(
                "the stored JWT secret is unreadable or too short",
            )));
        }
        _ => {}
    }
    // 4 × 122 random bits from the OS generator.
    let secret: String = (0..4)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    write_private(&path, &secret).map_err(failed)?;
    tracing::info!(path = %path.display(), "generated a JWT secret");
    Ok(Secret::new(secret))
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// The sandbox agents run in, if any: `auto` takes `bwrap` from `PATH` if it works there (and
/// warns when it does not). `Err` (with how to fix it) when the sandbox is required (`on`) but
/// does not work: the node then runs no agents at all. `hidden` are paths agents must not
/// read besides the data directory.
pub(crate) fn agent_sandbox(
    mode: SandboxMode,
    data_dir: &Path,
    hidden: &[PathBuf],
) -> Result<Option<Sandbox>, String> {
    if mode == SandboxMode::Off {
        return Ok(None);
    }
    let bwrap = find_on_path(Path::new("bwrap")).filter(|bwrap| Sandbox::works(bwrap));
    let Some(bwrap) = bwrap else {
        if mode == SandboxMode::On {
            return Err(
                "--agent-sandbox on, but there is no working `bwrap` on PATH: install bubblewrap \
                 (Debian: apt-get install bubblewrap) where user namespaces are allowed, or set \
                 --agent-sandbox auto|off"
                    .to_owned(),
            );
        }
        tracing::warn!(
            "agents run without a sandbox: no working `bwrap` on PATH (install bubblewrap, or \
             set --agent-sandbox off to silence this)"
        );
        return Ok(None);
    };
    let mut all_hidden = vec![data_dir.to_path_buf()];
    all_hidden.extend(
        hidden
            .iter()
            .filter_map(|path| std::fs::canonicalize(path).ok()),
    );
    tracing::info!(bwrap = %bwrap.display(), "agents run sandboxed");
    Ok(Some(Sandbox {
        bwrap,
        hidden: all_hidden,
    }))
}

/// Without the sandbox, a PID namespace per agent so that its tools die with the service (the
/// sandbox does that itself). Where namespaces are not allowed, the start-up reaping of the
/// next run is the only line, and the log says so.
pub(crate) fn agent_containment(sandboxed: bool) -> Option<Containment> {
    if sandboxed {
        return None;
    }
    let containment = Containment::detect();
    match &containment {
        Some(_) => tracing::info!(
            "agents run in PID namespaces of their own: their processes end with the service"
        ),
        None => tracing::warn!(
            "agents' tools may outlive a killed service until its next start: neither bwrap \
             nor `unshare --pid` (util-linux) works here"
        ),
    }
    containment
}
