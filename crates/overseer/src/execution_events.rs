//! One execution's events, ending with the execution itself.

use std::sync::Arc;
use std::time::Duration;

use overseer_domain::{ExecutionId, TaskExecution};
use overseer_ports::EventSubscriber;
use overseer_services::{RequestContext, SessionService, SessionStream, StreamItem, TaskService};

/// How long to wait between looks at an execution that has no session yet.
const LOOK: Duration = Duration::from_millis(200);

/// What [`ExecutionEvents::next`] yields.
#[derive(Debug)]
pub enum ExecutionEvent {
    /// An event of the execution's session (replayed from its start, then live).
    Session(StreamItem),
    /// The execution ended: its final row. Always last.
    Ended(Box<TaskExecution>),
}

/// The events of one execution: its session's, from the first, then its end. Pull them with
/// [`ExecutionEvents::next`]; nothing runs in the background.
pub struct ExecutionEvents {
    tasks: Arc<TaskService>,
    sessions: Arc<SessionService>,
    subscriber: Arc<dyn EventSubscriber>,
    ctx: RequestContext,
    execution: ExecutionId,
    follow: Follow,
    done: bool,
}

/// Where following the execution's session stands.
enum Follow {
    /// The execution has no session yet.
    NotYet,
    /// Its session's events, replayed then live.
    Following(SessionStream),
    /// The session stream ended (closed, lagged, or no subscription): only the end is left.
    Over,
}

/// What the wait for the next session event brought.
enum Step {
    Item(Option<StreamItem>),
    Looked(Option<Box<TaskExecution>>),
}

impl std::fmt::Debug for ExecutionEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionEvents")
            .field("execution", &self.execution)
            .finish_non_exhaustive()
    }
}

impl ExecutionEvents {
    pub(crate) fn new(
        tasks: Arc<TaskService>,
        sessions: Arc<SessionService>,
        subscriber: Arc<dyn EventSubscriber>,
        ctx: RequestContext,
        execution: ExecutionId,
    ) -> Self {
        Self {
            tasks,
            sessions,
            subscriber,
            ctx,
            execution,
            follow: Follow::NotYet,
            done: false,
        }
    }

    /// The next event; `None` after [`ExecutionEvent::Ended`], or when the execution cannot be
    /// read (not the caller's, or storage failing).
    pub async fn next(&mut self) -> Option<ExecutionEvent> {
        if self.done {
            return None;
        }
        loop {
            let step = match &mut self.follow {
                // What the session has published comes first; the end only once nothing is
                // ready.
                Follow::Following(stream) => tokio::select! {
                    biased;
                    item = stream.next() => Step::Item(item),
                    execution = self.tasks.wait_for_end(&self.ctx, self.execution, LOOK) => {
                        Step::Looked(execution.ok().map(Box::new))
                    }
                },
                Follow::NotYet | Follow::Over => {
                    let execution = self.tasks.wait_for_end(&self.ctx, self.execution, LOOK);
                    Step::Looked(execution.await.ok().map(Box::new))
                }
            };
            let execution = match step {
                Step::Item(Some(item)) => return Some(ExecutionEvent::Session(item)),
                Step::Item(None) => {
                    self.follow = Follow::Over;
                    continue;
                }
                Step::Looked(None) => {
                    self.done = true;
                    return None;
                }
                Step::Looked(Some(execution)) => execution,
            };
            if let (Follow::NotYet, Some(session)) = (&self.follow, execution.session_id) {
                // Subscribed before the replay: nothing between the two is lost.
                self.follow = match self.subscriber.subscribe(session, 256) {
                    Ok(live) => {
                        Follow::Following(self.sessions.stream(self.ctx.clone(), session, 0, live))
                    }
                    Err(_) => Follow::Over,
                };
                if matches!(self.follow, Follow::Following(_)) {
                    continue;
                }
            }
            if execution.status().is_terminal() {
                self.done = true;
                return Some(ExecutionEvent::Ended(execution));
            }
        }
    }
}
