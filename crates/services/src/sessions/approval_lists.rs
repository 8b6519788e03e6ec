//! Reading approvals: the caller's pending ones across sessions (an approvals inbox), or one
//! session's.

use overseer_domain::{Approval, ApprovalStatus, SessionId};
use overseer_ports::repositories::ApprovalFilter;
use overseer_ports::{Page, PageRequest, Scope};

use super::SessionService;
use crate::context::RequestContext;
use crate::error::ServiceError;

/// Whose approvals a list across sessions holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovalOwners {
    /// The caller's own (those of their sessions), admins included.
    Caller,
    /// Everyone's: admins only.
    Everyone,
}

impl SessionService {
    /// Approvals across sessions, newest first: the caller's, or with
    /// [`ApprovalOwners::Everyone`] (admins only) everyone's; `status` narrows them.
    ///
    /// # Errors
    /// `Forbidden` for everyone's when the caller is not an admin; storage errors.
    pub async fn approvals(
        &self,
        ctx: &RequestContext,
        owners: ApprovalOwners,
        status: Option<ApprovalStatus>,
        page: PageRequest,
    ) -> Result<Page<Approval>, ServiceError> {
        let scope = match owners {
            ApprovalOwners::Caller => Scope::Owner(ctx.user_id),
            ApprovalOwners::Everyone if ctx.is_admin => Scope::Admin,
            ApprovalOwners::Everyone => {
                return Err(ServiceError::Forbidden(
                    "only admins may list everyone's approvals",
                ));
            }
        };
        let filter = ApprovalFilter {
            status,
            session: None,
        };
        Ok(self.deps.repos.approvals.list(scope, filter, page).await?)
    }

    /// One session's approvals, newest first; `status` narrows them.
    ///
    /// # Errors
    /// `NotFound` for a missing session or someone else's; storage errors.
    pub async fn session_approvals(
        &self,
        ctx: &RequestContext,
        id: SessionId,
        status: Option<ApprovalStatus>,
        page: PageRequest,
    ) -> Result<Page<Approval>, ServiceError> {
        self.deps.repos.sessions.get(id, ctx.scope()).await?;
        let filter = ApprovalFilter {
            status,
            session: Some(id),
        };
        Ok(self
            .deps
            .repos
            .approvals
            .list(ctx.scope(), filter, page)
            .await?)
    }
}
