use std::path::{Path, PathBuf};

use async_trait::async_trait;
use overseer_domain::{ReportFormat, ReportId, SessionId};

/// How a file operation failed.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed: {reason}")]
pub struct FileError {
    /// What was being done (`create`, `write` …).
    pub operation: &'static str,
    /// What the file system said.
    pub reason: String,
}

/// Working directories of sessions: `<data_dir>/agent-workdirs/active/<id>/`, moved to
/// `archives/<session_id>/` when a session is archived. A session usually works in the
/// directory created under its own id; one that takes a warm agent adopts the directory that
/// agent was started in, so the stored path, not the id, says where a session works.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Workspaces: Send + Sync {
    /// Creates the session's empty working directory and returns its absolute path.
    ///
    /// # Errors
    /// [`FileError`] if it cannot be created.
    async fn create(&self, session: SessionId) -> Result<PathBuf, FileError>;

    /// Creates the session's working directory as a copy of `from` (another session's, active
    /// or archived) and returns its absolute path. Symbolic links are copied as links; nothing
    /// outside `from` is read.
    ///
    /// # Errors
    /// [`FileError`] if `from` is not a working directory of this service, holds more than the
    /// adapter copies, or cannot be copied (nothing is left behind then).
    async fn copy(&self, session: SessionId, from: &Path) -> Result<PathBuf, FileError>;

    /// Moves `session`'s working directory, now at `current`, under the archive and returns its
    /// new path.
    ///
    /// # Errors
    /// [`FileError`] if `current` is not an active working directory or cannot be moved.
    async fn archive(&self, session: SessionId, current: &Path) -> Result<PathBuf, FileError>;

    /// Removes an active working directory that no session uses (any more): one made for a
    /// session that adopted another, or for a warm agent that expired.
    ///
    /// # Errors
    /// [`FileError`] if `dir` is not an active working directory or cannot be removed.
    async fn discard(&self, dir: &Path) -> Result<(), FileError>;
}

/// Where report files live: `<data_dir>/reports/<report_id>/report.<ext>`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReportFiles: Send + Sync {
    /// Writes the file (atomically: a reader never sees half of it) and returns its path
    /// relative to the data directory.
    ///
    /// # Errors
    /// [`FileError`] if it cannot be written.
    async fn write(
        &self,
        report: ReportId,
        format: ReportFormat,
        bytes: Vec<u8>,
    ) -> Result<String, FileError>;

    /// Reads a report file by the relative path `write` returned.
    ///
    /// # Errors
    /// [`FileError`] if it cannot be read.
    async fn read(&self, relative_path: &str) -> Result<Vec<u8>, FileError>;
}
