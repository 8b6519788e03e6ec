//! Copying a working directory: files, directories and symbolic links (as links), bounded in
//! size and count so one fork cannot fill the disk.

use std::path::Path;

use overseer_ports::FileError;

/// The most a copy holds: 2 GiB in at most 200,000 entries.
pub(crate) const MAX_BYTES: u64 = 2 * 1024 * 1024 * 1024;
pub(crate) const MAX_ENTRIES: usize = 200_000;

const OPERATION: &str = "copying the working directory";

fn failed(err: std::io::Error) -> FileError {
    FileError {
        operation: OPERATION,
        reason: err.kind().to_string(),
    }
}

/// Copies the tree at `source` to `target`, which must not exist yet. Other kinds of entries
/// (sockets, devices, pipes) are left out.
pub(crate) fn copy_tree(source: &Path, target: &Path) -> Result<(), FileError> {
    let mut budget = Budget {
        bytes: MAX_BYTES,
        entries: MAX_ENTRIES,
    };
    std::fs::create_dir(target).map_err(failed)?;
    copy_dir(source, target, &mut budget)
}

struct Budget {
    bytes: u64,
    entries: usize,
}

impl Budget {
    fn take(&mut self, bytes: u64) -> Result<(), FileError> {
        self.entries = self.entries.checked_sub(1).ok_or_else(too_big)?;
        self.bytes = self.bytes.checked_sub(bytes).ok_or_else(too_big)?;
        Ok(())
    }
}

fn too_big() -> FileError {
    FileError {
        operation: OPERATION,
        reason: format!(
            "the working directory holds more than {} GiB or {MAX_ENTRIES} entries",
            MAX_BYTES / (1024 * 1024 * 1024)
        ),
    }
}

fn copy_dir(source: &Path, target: &Path, budget: &mut Budget) -> Result<(), FileError> {
    for entry in std::fs::read_dir(source).map_err(failed)? {
        let entry = entry.map_err(failed)?;
        let kind = entry.file_type().map_err(failed)?;
        let from = entry.path();
        let to = target.join(entry.file_name());
        if kind.is_symlink() {
            budget.take(0)?;
            let link = std::fs::read_link(&from).map_err(failed)?;
            std::os::unix::fs::symlink(link, &to).map_err(failed)?;
        } else if kind.is_dir() {
            budget.take(0)?;
            std::fs::create_dir(&to).map_err(failed)?;
            copy_dir(&from, &to, budget)?;
        } else if kind.is_file() {
            budget.take(entry.metadata().map_err(failed)?.len())?;
            std::fs::copy(&from, &to).map_err(failed)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_directories_and_links_are_copied_and_links_stay_links() {
        let root = std::env::temp_dir().join(format!("overseer-copy-{}", uuid::Uuid::now_v7()));
        let source = root.join("from");
        std::fs::create_dir_all(source.join("src/deep")).unwrap();
        std::fs::write(source.join("README"), "hello").unwrap();
        std::fs::write(source.join("src/deep/main.rs"), "fn main() {}").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", source.join("passwd")).unwrap();
        let target = root.join("to");
        copy_tree(&source, &target).unwrap();
        assert_eq!(
            std::fs::read_to_string(target.join("README")).unwrap(),
            "hello"
        );
        assert_eq!(
            std::fs::read_to_string(target.join("src/deep/main.rs")).unwrap(),
            "fn main() {}"
        );
        let link = target.join("passwd");
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/etc/passwd"));
        // The target must be new.
        assert!(copy_tree(&source, &target).is_err());
        std::fs::remove_dir_all(root).unwrap();
    }
}
