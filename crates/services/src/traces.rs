//! The spans of one execution's trace, kept across the hops that are not one call stack: the
//! HTTP request that queued it, the worker that claims it, the turn that streams events, and
//! the permission callback that waits for a person. Services only use `tracing`; an exporter
//! (OpenTelemetry in the app) turns the spans into a trace:
//!
//! ```text
//! request (HTTP) ─ execution ─┬─ execution.queue
//!                             └─ run ─ gen_ai.turn ─┬─ agent.start
//!                                                   └─ tool_call ─ approval.wait
//! ```
//!
//! Attributes follow the OpenTelemetry GenAI conventions where one applies
//! (`gen_ai.operation.name`, `gen_ai.request.model`, `gen_ai.usage.input_tokens`,
//! `gen_ai.tool.name`, `gen_ai.tool.call.id`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use overseer_domain::{ExecutionId, SessionId};
use tracing::Span;

/// Hands a span to the agent's environment as a W3C `traceparent`, so the CLI's own telemetry
/// (when it has any) joins the trace. Implemented by whoever exports the spans.
pub trait TraceParent: Send + Sync {
    /// The `traceparent` header value of `span`, if it is being traced.
    fn traceparent(&self, span: &Span) -> Option<String>;
}

/// The optional [`TraceParent`] of a deployment (none by default: agents get no
/// `TRACEPARENT`, and warm agents stay usable).
#[derive(Clone, Default)]
pub struct TracePropagation(pub Option<Arc<dyn TraceParent>>);

impl std::fmt::Debug for TracePropagation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TracePropagation")
            .field(&self.0.is_some())
            .finish()
    }
}

impl TracePropagation {
    /// `span`'s `traceparent`, when propagation is on and the span is traced.
    #[must_use]
    pub fn traceparent(&self, span: &Span) -> Option<String> {
        self.0.as_ref().and_then(|parent| parent.traceparent(span))
    }
}

/// Spans that outlive the call that opened them, by execution and by tool call.
#[derive(Clone, Default)]
pub struct TraceSpans {
    inner: Arc<Mutex<Spans>>,
}

impl std::fmt::Debug for TraceSpans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceSpans").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Spans {
    /// An execution's span and its queue span, from submit until claimed.
    queued: HashMap<ExecutionId, (Span, Span)>,
    /// Each session's current turn.
    turns: HashMap<SessionId, Span>,
    /// Tool calls in flight, by session and tool use id.
    tools: HashMap<(SessionId, String), Span>,
}

impl TraceSpans {
    fn spans(&self) -> MutexGuard<'_, Spans> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An execution was queued (inside the request that asked for it): its span begins, and
    /// its time in the queue.
    pub fn queued(&self, execution: ExecutionId) {
        let span = tracing::info_span!("execution", execution.id = %execution);
        let queue = tracing::info_span!(parent: &span, "execution.queue");
        self.spans().queued.insert(execution, (span, queue));
    }

    /// A worker claimed the execution: its queue span ends; the execution's span is returned
    /// (a new one when it was queued elsewhere: another node, or before a restart).
    #[must_use]
    pub fn claimed(&self, execution: ExecutionId) -> Span {
        match self.spans().queued.remove(&execution) {
            Some((span, _queue)) => span,
            None => tracing::info_span!("execution", execution.id = %execution),
        }
    }

    /// A turn of `session` began in `span`.
    pub fn turn_began(&self, session: SessionId, span: Span) {
        self.spans().turns.insert(session, span);
    }

    /// The session's turn ended: its span, and the spans of tools that never reported back.
    pub fn turn_ended(&self, session: SessionId) {
        let mut spans = self.spans();
        spans.turns.remove(&session);
        spans.tools.retain(|(s, _), _| *s != session);
    }

    /// The span of a tool call, opened by whichever sees it first (the event stream or the
    /// permission callback), inside the session's turn.
    #[must_use]
    pub fn tool(&self, session: SessionId, tool_use_id: &str, tool: &str) -> Span {
        let mut spans = self.spans();
        if let Some(span) = spans.tools.get(&(session, tool_use_id.to_owned())) {
            return span.clone();
        }
        let parent = spans
            .turns
            .get(&session)
            .cloned()
            .unwrap_or_else(Span::none);
        let span = tracing::info_span!(
            parent: &parent,
            "tool_call",
            gen_ai.operation.name = "execute_tool",
            gen_ai.tool.name = %tool,
            gen_ai.tool.call.id = %tool_use_id,
        );
        spans
            .tools
            .insert((session, tool_use_id.to_owned()), span.clone());
        span
    }

    /// The tool call ended: its span closes once nothing holds it.
    pub fn tool_ended(&self, session: SessionId, tool_use_id: &str) {
        self.spans()
            .tools
            .remove(&(session, tool_use_id.to_owned()));
    }
}
