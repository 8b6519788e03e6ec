//! Tool tracking: one `tool_calls` row per tool use, fed from three sides that may arrive in
//! any order (the assistant frame, the hooks, the permission decision, the tool result). A
//! per-session lock makes each update a read-modify-write no other tracker call interleaves.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use overseer_domain::{
    MessageId, PermissionDecision, SessionId, ToolCall, ToolCallId, ToolCallStatus,
};
use overseer_ports::repositories::ToolCallWrite;
use overseer_ports::{NoTelemetry, Telemetry};
use serde_json::Value;
use time::OffsetDateTime;

use crate::audit::{AuditRecord, AuditService};
use crate::context::Deps;
use crate::error::ServiceError;

/// Stored tool output is cut to this many bytes; the full size is recorded beside it.
pub const TOOL_OUTPUT_LIMIT: usize = 64 * 1024;

pub struct ToolTracker {
    deps: Deps,
    locks: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<()>>>>,
    telemetry: Arc<dyn Telemetry>,
}

impl std::fmt::Debug for ToolTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolTracker").finish_non_exhaustive()
    }
}

/// What is known about a tool use when a tracker call starts it.
#[derive(Clone, Debug)]
pub struct ToolUse<'a> {
    pub session: SessionId,
    pub tool_use_id: &'a str,
    pub tool_name: &'a str,
    pub input: &'a Value,
}

fn cut(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Tool call writes [`ToolTracker::prepare_all`] computed, holding the session's tool calls
/// until they are stored (or dropped).
#[derive(Debug)]
pub struct PreparedToolCalls {
    /// What to store, one write per tool use.
    pub writes: Vec<ToolCallWrite>,
    _lock: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl ToolTracker {
    #[must_use]
    pub fn new(deps: Deps) -> Self {
        Self {
            deps,
            locks: Mutex::new(HashMap::new()),
            telemetry: Arc::new(NoTelemetry),
        }
    }

    /// Reports finished tool calls to `telemetry`.
    #[must_use]
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    fn lock_for(&self, session: SessionId) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(session)
            .or_default()
            .clone()
    }

    /// Forgets a finished session's lock.
    pub fn forget(&self, session: SessionId) {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&session);
    }

    fn new_call(&self, tool_use: &ToolUse<'_>) -> ToolCall {
        ToolCall {
            id: ToolCallId::from_uuid(self.deps.ids.new_id()),
            session_id: tool_use.session,
            message_id: None,
            tool_use_id: tool_use.tool_use_id.to_owned(),
            tool_name: tool_use.tool_name.to_owned(),
            tool_input: tool_use.input.clone(),
            tool_output: None,
            tool_output_bytes: None,
            tool_response: None,
            parent_tool_use_id: None,
            status: ToolCallStatus::Pending,
            permission_decision: None,
            started_at: None,
            completed_at: None,
            duration_ms: None,
            created_at: self.deps.clock.now(),
        }
    }

    /// Applies what is learned about tool uses of one session to their rows, creating rows
    /// that do not exist yet: one write per distinct tool use, in order of first mention, for
    /// the caller to store with something else in one transaction (the messages that mention
    /// them, or the audit entries that account for them). The session's tool calls stay
    /// locked until the result is dropped, so no other tracker call reads them before the
    /// writes are stored.
    ///
    /// # Errors
    /// [`ServiceError::Storage`] if the stored calls cannot be read.
    pub async fn prepare_all(
        &self,
        session: SessionId,
        events: &[(ToolUse<'_>, ToolEvent<'_>)],
    ) -> Result<PreparedToolCalls, ServiceError> {
        if events.is_empty() {
            return Ok(PreparedToolCalls {
                writes: Vec::new(),
                _lock: None,
            });
        }
        let lock = self.lock_for(session).lock_owned().await;
        let repo = &self.deps.repos.tool_calls;
        let mut mentioned = HashSet::new();
        let wanted: Vec<String> = events
            .iter()
            .filter(|(tool_use, _)| mentioned.insert(tool_use.tool_use_id))
            .map(|(tool_use, _)| tool_use.tool_use_id.to_owned())
            .collect();
        let mut stored: HashMap<String, ToolCall> = repo
            .find_by_tool_use_ids(session, &wanted)
            .await?
            .into_iter()
            .map(|call| (call.tool_use_id.clone(), call))
            .collect();
        // One write per tool use, in order of first mention; `slots` finds it by id.
        let mut writes: Vec<ToolCallWrite> = Vec::with_capacity(wanted.len());
        let mut slots: HashMap<&str, usize> = HashMap::with_capacity(wanted.len());
        let now = self.deps.clock.now();
        for (tool_use, event) in events {
            let position = *slots.entry(tool_use.tool_use_id).or_insert_with(|| {
                writes.push(match stored.remove(tool_use.tool_use_id) {
                    Some(call) => ToolCallWrite {
                        expected: Some(call.status),
                        call,
                    },
                    None => ToolCallWrite {
                        call: self.new_call(tool_use),
                        expected: None,
                    },
                });
                writes.len() - 1
            });
            let call = &mut writes[position].call;
            let was_terminal = call.status.is_terminal();
            event.apply(call, now);
            if !was_terminal && call.status.is_terminal() {
                let millis = call.duration_ms.unwrap_or(0);
                self.telemetry.tool_call_finished(
                    &call.tool_name,
                    call.status,
                    std::time::Duration::from_millis(millis),
                );
            }
        }
        Ok(PreparedToolCalls {
            writes,
            _lock: Some(lock),
        })
    }

    /// Stores what `events` teach about the session's tool calls together with the audit
    /// `records` that account for them, in one write: both or neither. What a hook or a
    /// permission decision learned about a tool use.
    ///
    /// # Errors
    /// [`ServiceError::Storage`] and friends; nothing is stored then.
    pub async fn record_audited(
        &self,
        audit: &AuditService,
        session: SessionId,
        events: &[(ToolUse<'_>, ToolEvent<'_>)],
        records: Vec<AuditRecord<'_>>,
    ) -> Result<(), ServiceError> {
        let prepared = self.prepare_all(session, events).await?;
        audit.record_with(records, &prepared.writes).await
    }

    #[cfg(test)]
    async fn record(
        &self,
        tool_use: &ToolUse<'_>,
        event: ToolEvent<'_>,
    ) -> Result<ToolCall, ServiceError> {
        let prepared = self
            .prepare_all(tool_use.session, &[(tool_use.clone(), event)])
            .await?;
        self.deps
            .repos
            .tool_calls
            .save_all(&prepared.writes)
            .await?;
        let mut calls: Vec<ToolCall> = prepared.writes.into_iter().map(|w| w.call).collect();
        calls.pop().ok_or_else(|| {
            ServiceError::Storage(overseer_ports::RepoError::NotFound {
                entity: "tool call",
            })
        })
    }

    /// Ends the session's unfinished tool calls as `failed` with `reason`: their agent is gone,
    /// so no result will come. Returns how many were ended.
    ///
    /// # Errors
    /// [`ServiceError::Storage`] and friends; nothing is stored then.
    pub async fn abandon_unfinished(
        &self,
        session: SessionId,
        reason: &str,
    ) -> Result<usize, ServiceError> {
        let lock = self.lock_for(session);
        let _guard = lock.lock().await;
        let repo = &self.deps.repos.tool_calls;
        let now = self.deps.clock.now();
        let writes: Vec<ToolCallWrite> = repo
            .list_unfinished(session)
            .await?
            .into_iter()
            .map(|mut call| {
                let expected = call.status;
                call.status = ToolCallStatus::Failed;
                call.tool_output = Some(reason.to_owned());
                call.tool_output_bytes = Some(reason.len() as u64);
                call.completed_at = Some(now);
                ToolCallWrite {
                    call,
                    expected: Some(expected),
                }
            })
            .collect();
        repo.save_all(&writes).await?;
        Ok(writes.len())
    }

    /// The PreToolUse hook fired: the tool is about to run. (The hook itself stores this
    /// with its audit entries, through [`Self::prepare_all`].)
    ///
    /// # Errors
    /// [`ServiceError::Storage`] and friends.
    #[cfg(test)]
    pub async fn started(&self, tool_use: &ToolUse<'_>) -> Result<ToolCall, ServiceError> {
        self.record(tool_use, ToolEvent::Started).await
    }

    /// The permission decision. A denied tool ends here. (A decision is stored with its audit
    /// entry, through [`Self::record_audited`].)
    ///
    /// # Errors
    /// [`ServiceError::Storage`] and friends.
    #[cfg(test)]
    pub async fn decided(
        &self,
        tool_use: &ToolUse<'_>,
        decision: PermissionDecision,
    ) -> Result<ToolCall, ServiceError> {
        self.record(tool_use, ToolEvent::Decided(decision)).await
    }

    /// The PostToolUse hook fired: the tool ran, and `response` is the agent's structured
    /// account of it. (The hook itself stores this with its audit entry.)
    ///
    /// # Errors
    /// [`ServiceError::Storage`] and friends.
    #[cfg(test)]
    pub async fn responded(
        &self,
        tool_use: &ToolUse<'_>,
        response: &Value,
        is_error: bool,
        duration_ms: Option<u64>,
    ) -> Result<ToolCall, ServiceError> {
        self.record(
            tool_use,
            ToolEvent::Responded {
                response,
                is_error,
                duration_ms,
            },
        )
        .await
    }
}

/// One thing learned about a tool use.
#[derive(Clone, Copy, Debug)]
pub enum ToolEvent<'a> {
    /// The assistant asked for the tool in this message (on behalf of a sub-agent's tool use,
    /// when `parent_tool_use_id` is set).
    Requested {
        message: MessageId,
        parent_tool_use_id: Option<&'a str>,
    },
    /// The PreToolUse hook fired: the tool is about to run.
    Started,
    /// The permission decision. A denied tool ends here.
    Decided(PermissionDecision),
    /// The PostToolUse hook fired: the agent's structured account of the result.
    Responded {
        response: &'a Value,
        is_error: bool,
        duration_ms: Option<u64>,
    },
    /// The tool's result as fed to the model: its text is the call's output.
    Finished {
        text: &'a str,
        structured: Option<&'a Value>,
        is_error: bool,
    },
}

impl ToolEvent<'_> {
    fn apply(self, call: &mut ToolCall, now: OffsetDateTime) {
        match self {
            Self::Requested {
                message,
                parent_tool_use_id,
            } => {
                call.message_id = Some(message);
                call.parent_tool_use_id = parent_tool_use_id.map(str::to_owned);
            }
            Self::Started => {
                if call.status == ToolCallStatus::Pending {
                    call.status = ToolCallStatus::Running;
                    call.started_at = Some(now);
                }
            }
            Self::Decided(decision) => {
                call.permission_decision = Some(decision);
                if decision == PermissionDecision::Denied && !call.status.is_terminal() {
                    call.status = ToolCallStatus::Denied;
                    call.completed_at = Some(now);
                }
            }
            Self::Responded {
                response,
                is_error,
                duration_ms,
            } => {
                call.tool_response = Some(response.clone());
                end(call, is_error, duration_ms, now);
            }
            Self::Finished {
                text,
                structured,
                is_error,
            } => {
                // The text the model read is the output, whoever reported the end first.
                call.tool_output_bytes = Some(text.len() as u64);
                call.tool_output = Some(cut(text, TOOL_OUTPUT_LIMIT));
                if call.tool_response.is_none() {
                    call.tool_response = structured.cloned();
                }
                end(call, is_error, None, now);
            }
        }
    }
}

/// Ends a call that has not ended yet: the first report of its end wins.
fn end(call: &mut ToolCall, is_error: bool, duration_ms: Option<u64>, now: OffsetDateTime) {
    if call.status.is_terminal() {
        return;
    }
    call.status = if is_error {
        ToolCallStatus::Failed
    } else {
        ToolCallStatus::Completed
    };
    call.completed_at = Some(now);
    call.duration_ms = duration_ms.or_else(|| {
        call.started_at
            .map(|started| u64::try_from((now - started).whole_milliseconds()).unwrap_or(0))
    });
}

#[cfg(test)]
mod tests {
    use overseer_domain::Session;
    use overseer_ports::Repositories;
    use overseer_testkit::{MemoryStore, fixtures};

    use super::*;

    /// A tracker over an in-memory store holding one session.
    async fn tracker_of_a_session() -> (Repositories, Session, ToolTracker) {
        let repos = MemoryStore::new().repositories();
        let owner = fixtures::user("a@example.com");
        repos.users.insert(&owner).await.unwrap();
        let session = fixtures::session(owner.id, fixtures::EPOCH);
        repos.sessions.insert(&session).await.unwrap();
        let tracker = ToolTracker::new(Deps::system(repos.clone()));
        (repos, session, tracker)
    }

    /// Regression (fault suite: a CLI killed mid-turn left its tool call `running`): an ended
    /// agent's unfinished calls are failed with the reason; finished ones are left alone.
    #[tokio::test]
    async fn unfinished_calls_of_a_gone_agent_are_failed_and_finished_ones_kept() {
        use overseer_ports::PageRequest;

        let (repos, session, tracker) = tracker_of_a_session().await;
        let input = serde_json::json!({"command": "sleep 60"});
        let tool = |id| ToolUse {
            session: session.id,
            tool_use_id: id,
            tool_name: "Bash",
            input: &input,
        };
        tracker
            .decided(&tool("asked"), PermissionDecision::Allowed)
            .await
            .unwrap();
        tracker.started(&tool("running")).await.unwrap();
        tracker.started(&tool("done")).await.unwrap();
        let finished = ToolEvent::Finished {
            text: "ok",
            structured: None,
            is_error: false,
        };
        tracker.record(&tool("done"), finished).await.unwrap();

        let ended = tracker
            .abandon_unfinished(session.id, "agent gone")
            .await
            .unwrap();
        assert_eq!(ended, 2);
        let calls = repos
            .tool_calls
            .list_for_session(session.id, PageRequest::default())
            .await
            .unwrap()
            .items;
        for call in calls {
            if call.tool_use_id == "done" {
                assert_eq!(call.status, ToolCallStatus::Completed);
                assert_eq!(call.tool_output.as_deref(), Some("ok"));
            } else {
                assert_eq!(call.status, ToolCallStatus::Failed, "{}", call.tool_use_id);
                assert_eq!(call.tool_output.as_deref(), Some("agent gone"));
                assert!(call.completed_at.is_some());
            }
        }
    }

    #[test]
    fn output_is_cut_on_a_char_boundary() {
        let text = "é".repeat(10);
        let cut_text = cut(&text, 5);
        assert_eq!(cut_text, "éé");
        assert_eq!(cut("short", 10), "short");
    }

    /// Regression (issue 19: a stored tool output was the CLI's JSON envelope): the output is
    /// the text the model read, the envelope is kept beside it, whichever report comes first.
    #[tokio::test]
    async fn the_output_is_the_text_the_model_read_and_the_envelope_is_kept_beside_it() {
        let (_, session, tracker) = tracker_of_a_session().await;
        let input = serde_json::json!({"command": "ls"});
        let envelope = serde_json::json!({"stdout": "a.txt", "stderr": "", "interrupted": false});
        let tool = |id| ToolUse {
            session: session.id,
            tool_use_id: id,
            tool_name: "Bash",
            input: &input,
        };
        let result = ToolEvent::Finished {
            text: "a.txt",
            structured: Some(&envelope),
            is_error: false,
        };
        // The hook first (as the CLI sends them), then the result.
        tracker.started(&tool("hook-first")).await.unwrap();
        tracker
            .responded(&tool("hook-first"), &envelope, false, Some(7))
            .await
            .unwrap();
        let call = tracker.record(&tool("hook-first"), result).await.unwrap();
        assert_eq!(call.status, ToolCallStatus::Completed);
        assert_eq!(call.tool_output.as_deref(), Some("a.txt"));
        assert_eq!(call.tool_output_bytes, Some(5));
        assert_eq!(call.tool_response.as_ref(), Some(&envelope));
        assert_eq!(call.duration_ms, Some(7), "the hook's measure");
        // The result alone still keeps the envelope it carries.
        let call = tracker.record(&tool("result-only"), result).await.unwrap();
        assert_eq!(call.tool_output.as_deref(), Some("a.txt"));
        assert_eq!(call.tool_response.as_ref(), Some(&envelope));
    }
}
