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

/// A tool's output as text: strings as they are, anything else as JSON.
#[must_use]
pub fn output_text(output: &Value) -> String {
    match output {
        Value::String(s) => s.clone(),
        Value::Array(blocks) if blocks.iter().all(|b| b.get("text").is_some()) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
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
            status: ToolCallStatus::Pending,
            permission_decision: None,
            started_at: None,
            completed_at: None,
            duration_ms: None,
            created_at: self.deps.clock.now(),
        }
    }

    /// Applies what is learned about tool uses of one session to their rows, creating rows
    /// that do not exist yet, and stores every change in one write (one transaction). Returns
    /// the rows as stored, one per distinct tool use, in order of first mention.
    ///
    /// # Errors
    /// [`ServiceError::Storage`] and friends; nothing is stored then.
    pub async fn record_all(
        &self,
        session: SessionId,
        events: &[(ToolUse<'_>, ToolEvent<'_>)],
    ) -> Result<Vec<ToolCall>, ServiceError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let lock = self.lock_for(session);
        let _guard = lock.lock().await;
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
        repo.save_all(&writes).await?;
        Ok(writes.into_iter().map(|w| w.call).collect())
    }

    async fn record(
        &self,
        tool_use: &ToolUse<'_>,
        event: ToolEvent<'_>,
    ) -> Result<ToolCall, ServiceError> {
        let mut calls = self
            .record_all(tool_use.session, &[(tool_use.clone(), event)])
            .await?;
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

    /// The PreToolUse hook fired: the tool is about to run.
    ///
    /// # Errors
    /// [`ServiceError::Storage`] and friends.
    pub async fn started(&self, tool_use: &ToolUse<'_>) -> Result<ToolCall, ServiceError> {
        self.record(tool_use, ToolEvent::Started).await
    }

    /// The permission decision. A denied tool ends here.
    ///
    /// # Errors
    /// As [`ToolTracker::started`].
    pub async fn decided(
        &self,
        tool_use: &ToolUse<'_>,
        decision: PermissionDecision,
    ) -> Result<ToolCall, ServiceError> {
        self.record(tool_use, ToolEvent::Decided(decision)).await
    }

    /// The tool's output (PostToolUse hook or tool result). The first report wins.
    ///
    /// # Errors
    /// As [`ToolTracker::started`].
    pub async fn finished(
        &self,
        tool_use: &ToolUse<'_>,
        output: &Value,
        is_error: bool,
        duration_ms: Option<u64>,
    ) -> Result<ToolCall, ServiceError> {
        self.record(
            tool_use,
            ToolEvent::Finished {
                output,
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
    /// The assistant asked for the tool in this message.
    Requested(MessageId),
    /// The PreToolUse hook fired: the tool is about to run.
    Started,
    /// The permission decision. A denied tool ends here.
    Decided(PermissionDecision),
    /// The tool's output (PostToolUse hook or tool result). The first report wins.
    Finished {
        output: &'a Value,
        is_error: bool,
        duration_ms: Option<u64>,
    },
}

impl ToolEvent<'_> {
    fn apply(self, call: &mut ToolCall, now: OffsetDateTime) {
        match self {
            Self::Requested(message) => call.message_id = Some(message),
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
            Self::Finished {
                output,
                is_error,
                duration_ms,
            } => {
                if call.status.is_terminal() {
                    return;
                }
                let text = output_text(output);
                call.status = if is_error {
                    ToolCallStatus::Failed
                } else {
                    ToolCallStatus::Completed
                };
                call.tool_output_bytes = Some(text.len() as u64);
                call.tool_output = Some(cut(&text, TOOL_OUTPUT_LIMIT));
                call.completed_at = Some(now);
                call.duration_ms = duration_ms.or_else(|| {
                    call.started_at.map(|started| {
                        u64::try_from((now - started).whole_milliseconds()).unwrap_or(0)
                    })
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (fault suite: a CLI killed mid-turn left its tool call `running`): an ended
    /// agent's unfinished calls are failed with the reason; finished ones are left alone.
    #[tokio::test]
    async fn unfinished_calls_of_a_gone_agent_are_failed_and_finished_ones_kept() {
        use overseer_ports::PageRequest;
        use overseer_testkit::{MemoryStore, fixtures};

        let repos = MemoryStore::new().repositories();
        let owner = fixtures::user("a@example.com");
        repos.users.insert(&owner).await.unwrap();
        let session = fixtures::session(owner.id, fixtures::EPOCH);
        repos.sessions.insert(&session).await.unwrap();
        let tracker = ToolTracker::new(Deps::system(repos.clone()));
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
        let output = serde_json::json!("ok");
        tracker
            .finished(&tool("done"), &output, false, Some(5))
            .await
            .unwrap();

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

    #[test]
    fn output_text_of_blocks_and_values() {
        assert_eq!(output_text(&serde_json::json!("plain")), "plain");
        assert_eq!(
            output_text(
                &serde_json::json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
            ),
            "a\nb"
        );
        assert_eq!(
            output_text(&serde_json::json!({"stdout": "x"})),
            r#"{"stdout":"x"}"#
        );
    }
}
