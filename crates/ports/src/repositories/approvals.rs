use async_trait::async_trait;
use overseer_domain::{Approval, ApprovalId, ApprovalStatus, Delivery, SessionId};

use crate::{Page, PageRequest, RepoError, Scope};

/// Narrows a list of approvals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApprovalFilter {
    /// Only approvals in this status.
    pub status: Option<ApprovalStatus>,
    /// Only those of this session.
    pub session: Option<SessionId>,
}

/// Approvals: tool uses waiting for a person.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ApprovalRepository: Send + Sync {
    /// Stores a new approval and puts `outbox` (its notices' deliveries) in the
    /// notification outbox, in one transaction: both or neither.
    ///
    /// # Errors
    /// `AlreadyExists` if the id is taken; `NotFound` if its session or user, or a
    /// delivery's target, does not exist.
    async fn insert(&self, approval: &Approval, outbox: &[Delivery]) -> Result<(), RepoError>;

    /// # Errors
    /// `NotFound` if it does not exist or is outside `scope`.
    async fn get(&self, id: ApprovalId, scope: Scope) -> Result<Approval, RepoError>;

    /// Writes status, `decided_by` and `decided_at` if the stored status is still `expected`:
    /// of an answer and an expiry racing, exactly one wins. `outbox` is enqueued in the same
    /// transaction, only by the winner.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` if the stored status is not `expected`.
    async fn update(
        &self,
        approval: &Approval,
        expected: ApprovalStatus,
        outbox: &[Delivery],
    ) -> Result<(), RepoError>;

    /// A session's pending approvals, oldest first.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list_pending(&self, session: SessionId) -> Result<Vec<Approval>, RepoError>;

    /// A page of the approvals in `scope` (those of the owner's sessions) that `filter` keeps,
    /// newest first.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list(
        &self,
        scope: Scope,
        filter: ApprovalFilter,
        page: PageRequest,
    ) -> Result<Page<Approval>, RepoError>;
}
