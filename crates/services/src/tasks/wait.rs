//! Waiting for a run to end (`Prefer: wait=N` over HTTP, `wait` for embedders).

use std::time::Duration;

use overseer_domain::{ExecutionId, TaskExecution};

use super::TaskService;
use crate::context::RequestContext;
use crate::error::ServiceError;

/// How often a waiter re-reads the row anyway: an ending written by another node is not
/// announced in this process.
const REREAD: Duration = Duration::from_millis(500);

impl TaskService {
    /// The execution once it has ended, or as it is when `timeout` has passed (check its
    /// status). Endings in this process answer at once; endings written by another node are
    /// seen on a re-read, at most half a second late.
    ///
    /// # Errors
    /// `NotFound` for an execution outside the caller's scope; storage errors.
    pub async fn wait_for_end(
        &self,
        ctx: &RequestContext,
        id: ExecutionId,
        timeout: Duration,
    ) -> Result<TaskExecution, ServiceError> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribed before the first read: an ending between the two is not missed.
        let mut ended = self.ended.subscribe();
        loop {
            let execution = self.execution(ctx, id).await?;
            if execution.status().is_terminal() || tokio::time::Instant::now() >= deadline {
                return Ok(execution);
            }
            let reread = (tokio::time::Instant::now() + REREAD).min(deadline);
            loop {
                match tokio::time::timeout_at(reread, ended.recv()).await {
                    Ok(Ok(ended_id)) if ended_id != id => {}
                    // Ours ended, we lagged behind (it may be among the skipped), or time to
                    // re-read.
                    _ => break,
                }
            }
        }
    }
}
