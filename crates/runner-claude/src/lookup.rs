//! Finding programs as a shell would: on `PATH`.

use std::path::{Path, PathBuf};

/// `binary` as found on `PATH` when it is a bare name (inside the sandbox, the CLI's install
/// tree must be known to be bound).
pub(crate) fn on_path(binary: &Path) -> PathBuf {
    if binary.components().count() != 1 {
        return binary.to_path_buf();
    }
    find_on_path(binary).unwrap_or_else(|| binary.to_path_buf())
}

/// The first file named `name` in a directory of `PATH`, as a shell would find it.
#[must_use]
pub fn find_on_path(name: &Path) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
