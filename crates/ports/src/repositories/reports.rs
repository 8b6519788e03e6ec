use async_trait::async_trait;
use overseer_domain::{Report, ReportId, SessionId};

use crate::{Page, PageRequest, RepoError, Scope};

/// Reports' records (their files are `ReportFiles`').
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReportRepository: Send + Sync {
    /// Records a written report.
    ///
    /// # Errors
    /// `AlreadyExists` if the id is taken; `NotFound` if its session or user does not exist.
    async fn insert(&self, report: &Report) -> Result<(), RepoError>;

    /// # Errors
    /// `NotFound` if it does not exist or is outside `scope`.
    async fn get(&self, id: ReportId, scope: Scope) -> Result<Report, RepoError>;

    /// A session's reports in `scope`, newest first.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list_for_session(
        &self,
        session: SessionId,
        scope: Scope,
        page: PageRequest,
    ) -> Result<Page<Report>, RepoError>;
}
