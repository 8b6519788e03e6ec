//! The file-system adapter: session working directories and report files, all under the
//! service's data directory.
//!
//! - `<data_dir>/agent-workdirs/active/<session_id>/`, moved to `…/archives/<session_id>/`
//! - `<data_dir>/reports/<report_id>/report.<ext>`

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use overseer_domain::{ReportFormat, ReportId, SessionId};
use overseer_ports::{FileError, ReportFiles, Workspaces};

mod tree_copy;

fn failed(operation: &'static str) -> impl Fn(std::io::Error) -> FileError {
    move |err| FileError {
        operation,
        reason: err.kind().to_string(),
    }
}

/// Working directories under `<data_dir>/agent-workdirs`.
#[derive(Clone, Debug)]
pub struct LocalWorkspaces {
    root: PathBuf,
}

impl LocalWorkspaces {
    /// Working directories under `data_dir`, which should be absolute (the CLI runs in them).
    #[must_use]
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("agent-workdirs"),
        }
    }

    fn active(&self, session: SessionId) -> PathBuf {
        self.root.join("active").join(session.to_string())
    }

    fn archived(&self, session: SessionId) -> PathBuf {
        self.root.join("archives").join(session.to_string())
    }

    /// `dir` if it is a working directory of this service: directly under `active/` or
    /// `archives/`.
    fn working_dir(&self, dir: &Path) -> Result<PathBuf, FileError> {
        let outside = || FileError {
            operation: "copying the working directory",
            reason: "not a working directory of this service".to_owned(),
        };
        let dir = std::fs::canonicalize(dir).map_err(|_| outside())?;
        let root = std::fs::canonicalize(&self.root).map_err(|_| outside())?;
        let parent = dir.parent().ok_or_else(outside)?;
        if parent == root.join("active") || parent == root.join("archives") {
            Ok(dir)
        } else {
            Err(outside())
        }
    }

    /// `dir` itself if it is a directory directly under `active/` (the only ones this adapter
    /// moves or removes), so a wrong path can never touch anything else.
    fn active_dir<'p>(
        &self,
        dir: &'p Path,
        operation: &'static str,
    ) -> Result<&'p Path, FileError> {
        let active = self.root.join("active");
        let direct_child = dir.parent() == Some(active.as_path())
            || std::fs::canonicalize(&active)
                .is_ok_and(|root| dir.parent() == Some(root.as_path()));
        let plain_name = dir
            .file_name()
            .is_some_and(|name| name != "." && name != "..");
        if direct_child && plain_name {
            Ok(dir)
        } else {
            Err(FileError {
                operation,
                reason: "not an active working directory".to_owned(),
            })
        }
    }
}

#[async_trait]
impl Workspaces for LocalWorkspaces {
    async fn create(&self, session: SessionId) -> Result<PathBuf, FileError> {
        let dir = self.active(session);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(failed("creating the working directory"))?;
        tokio::fs::canonicalize(&dir)
            .await
            .map_err(failed("resolving the working directory"))
    }

    async fn copy(&self, session: SessionId, from: &Path) -> Result<PathBuf, FileError> {
        let source = self.working_dir(from)?;
        let target = self.active(session);
        let copied = {
            let target = target.clone();
            tokio::task::spawn_blocking(move || tree_copy::copy_tree(&source, &target))
                .await
                .map_err(|err| FileError {
                    operation: "copying the working directory",
                    reason: err.to_string(),
                })?
        };
        if let Err(err) = copied {
            // Nothing half-copied stays behind.
            let _ = tokio::fs::remove_dir_all(&target).await;
            return Err(err);
        }
        tokio::fs::canonicalize(&target)
            .await
            .map_err(failed("resolving the working directory"))
    }

    async fn archive(&self, session: SessionId, current: &Path) -> Result<PathBuf, FileError> {
        let current = self.active_dir(current, "archiving the working directory")?;
        let target = self.archived(session);
        let parent = target.parent().unwrap_or(&self.root);
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(failed("creating the archive directory"))?;
        tokio::fs::rename(current, &target)
            .await
            .map_err(failed("archiving the working directory"))?;
        Ok(target)
    }

    async fn discard(&self, dir: &Path) -> Result<(), FileError> {
        let dir = self.active_dir(dir, "removing the working directory")?;
        match tokio::fs::remove_dir_all(dir).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                Err(failed("removing the working directory")(err))
            }
            _ => Ok(()),
        }
    }
}

/// Report files under `<data_dir>/reports`.
#[derive(Clone, Debug)]
pub struct LocalReportFiles {
    data_dir: PathBuf,
}

impl LocalReportFiles {
    #[must_use]
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
        }
    }
}

#[async_trait]
impl ReportFiles for LocalReportFiles {
    async fn write(
        &self,
        report: ReportId,
        format: ReportFormat,
        bytes: Vec<u8>,
    ) -> Result<String, FileError> {
        let relative = format!("reports/{report}/report.{}", format.extension());
        let path = self.data_dir.join(&relative);
        let dir = self.data_dir.join("reports").join(report.to_string());
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(failed("creating the report directory"))?;
        // Write beside, then rename: a download never sees a half-written report.
        let partial = dir.join(".report.partial");
        tokio::fs::write(&partial, bytes)
            .await
            .map_err(failed("writing the report"))?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(failed("writing the report"))?;
        Ok(relative)
    }

    async fn read(&self, relative_path: &str) -> Result<Vec<u8>, FileError> {
        // Only paths this adapter wrote: no absolute paths, no way out of the data directory.
        let safe = Path::new(relative_path)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !safe || !relative_path.starts_with("reports/") {
            return Err(FileError {
                operation: "reading the report",
                reason: "not a report path".to_owned(),
            });
        }
        tokio::fs::read(self.data_dir.join(relative_path))
            .await
            .map_err(failed("reading the report"))
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn temp() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("overseer-files-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn workdirs_are_created_and_archived() {
        let data = temp();
        let workspaces = LocalWorkspaces::new(&data);
        let session = SessionId::from_uuid(Uuid::now_v7());
        let dir = workspaces.create(session).await.unwrap();
        assert!(dir.is_absolute() && dir.ends_with(format!("agent-workdirs/active/{session}")));
        std::fs::write(dir.join("out.txt"), "kept").unwrap();
        let archived = workspaces.archive(session, &dir).await.unwrap();
        assert!(!dir.exists());
        assert_eq!(
            std::fs::read_to_string(archived.join("out.txt")).unwrap(),
            "kept"
        );
        assert!(archived.ends_with(format!("agent-workdirs/archives/{session}")));
        std::fs::remove_dir_all(data).unwrap();
    }

    #[tokio::test]
    async fn a_session_archives_the_directory_it_adopted() {
        let data = temp();
        let workspaces = LocalWorkspaces::new(&data);
        let warm = workspaces
            .create(SessionId::from_uuid(Uuid::now_v7()))
            .await
            .unwrap();
        let session = SessionId::from_uuid(Uuid::now_v7());
        let own = workspaces.create(session).await.unwrap();
        workspaces.discard(&own).await.unwrap();
        assert!(!own.exists());
        std::fs::write(warm.join("out.txt"), "kept").unwrap();
        let archived = workspaces.archive(session, &warm).await.unwrap();
        assert!(!warm.exists());
        assert!(archived.ends_with(format!("agent-workdirs/archives/{session}")));
        assert_eq!(
            std::fs::read_to_string(archived.join("out.txt")).unwrap(),
            "kept"
        );
        std::fs::remove_dir_all(data).unwrap();
    }

    #[tokio::test]
    async fn only_active_working_directories_are_moved_or_removed() {
        let data = temp();
        let workspaces = LocalWorkspaces::new(&data);
        let session = SessionId::from_uuid(Uuid::now_v7());
        let dir = workspaces.create(session).await.unwrap();
        let precious = data.join("overseer.db");
        std::fs::write(&precious, "rows").unwrap();
        for outside in [
            precious.clone(),
            data.clone(),
            dir.join(".."),
            dir.join("nested"),
            PathBuf::from("/etc"),
        ] {
            assert!(
                workspaces.discard(&outside).await.is_err(),
                "{}",
                outside.display()
            );
            assert!(
                workspaces.archive(session, &outside).await.is_err(),
                "{}",
                outside.display()
            );
        }
        assert!(precious.exists() && dir.exists());
        std::fs::remove_dir_all(data).unwrap();
    }

    #[tokio::test]
    async fn reports_are_written_and_read_back_by_relative_path() {
        let data = temp();
        let files = LocalReportFiles::new(&data);
        let report = ReportId::from_uuid(Uuid::now_v7());
        let path = files
            .write(report, ReportFormat::Markdown, b"# Report".to_vec())
            .await
            .unwrap();
        assert_eq!(path, format!("reports/{report}/report.md"));
        assert_eq!(files.read(&path).await.unwrap(), b"# Report");
        assert!(files.read("../etc/passwd").await.is_err());
        assert!(files.read("/etc/passwd").await.is_err());
        std::fs::remove_dir_all(data).unwrap();
    }
}
