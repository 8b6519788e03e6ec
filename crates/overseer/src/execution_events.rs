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
    stream: Option<SessionStream>,
    /// The session stream ended (closed or lagged): only the end is left to tell.
    stream_over: bool,
    done: bool,
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
            stream: None,
            stream_over: false,
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
            let Some(stream) = self.stream.as_mut().filter(|_| !self.stream_over) else {
                let execution = self.look(LOOK).await?;
                if let (None, false, Some(session)) =
                    (&self.stream, self.stream_over, execution.session_id)
                {
                    // Subscribed before the replay: nothing between the two is lost.
                    if let Ok(live) = self.subscriber.subscribe(session, 256) {
                        self.stream =
                            Some(self.sessions.stream(self.ctx.clone(), session, 0, live));
                        continue;
                    }
                    self.stream_over = true;
                }
                if execution.status().is_terminal() {
                    self.done = true;
                    return Some(ExecutionEvent::Ended(Box::new(execution)));
                }
                continue;
            };
            // What the session has published comes first; the end only once nothing is ready.
            tokio::select! {
                biased;
                item = stream.next() => match item {
                    Some(item) => return Some(ExecutionEvent::Session(item)),
                    None => self.stream_over = true,
                },
                execution = self.tasks.wait_for_end(&self.ctx, self.execution, LOOK) => {
                    let Ok(execution) = execution else {
                        self.done = true;
                        return None;
                    };
                    if execution.status().is_terminal() {
                        self.done = true;
                        return Some(ExecutionEvent::Ended(Box::new(execution)));
                    }
                }
            }
        }
    }

    /// The execution after waiting up to `wait` for its end; `None` (and done) when it cannot
    /// be read.
    async fn look(&mut self, wait: Duration) -> Option<TaskExecution> {
        match self
            .tasks
            .wait_for_end(&self.ctx, self.execution, wait)
            .await
        {
            Ok(execution) => Some(execution),
            Err(_) => {
                self.done = true;
                None
            }
        }
    }
}
