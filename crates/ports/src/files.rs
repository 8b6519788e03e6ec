use std::path::PathBuf;

use async_trait::async_trait;
use overseer_domain::{ReportFormat, ReportId, SessionId};

/// How a file operation failed.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed: {reason}")]
pub struct FileError {
    pub operation: &'static str,
    pub reason: String,
}

/// Working directories of sessions: `<data_dir>/agent-workdirs/active/<session_id>/`, moved to
/// `archives/` when a session is archived.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Workspaces: Send + Sync {
    /// Creates the session's empty working directory and returns its absolute path.
    ///
    /// # Errors
    /// [`FileError`] if it cannot be created.
    async fn create(&self, session: SessionId) -> Result<PathBuf, FileError>;

    /// Moves the working directory under the archive and returns its new path.
    ///
    /// # Errors
    /// [`FileError`] if it cannot be moved.
    async fn archive(&self, session: SessionId) -> Result<PathBuf, FileError>;
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
