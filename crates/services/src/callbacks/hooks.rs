//! The hooks of a session: audit and tool tracking before and after every tool use, and the
//! permission policy before it (the only callback that fires for every tool use); for the
//! other hooks (a prompt submitted, the turn stopping, sub-agents, compaction, notifications)
//! an audit entry and a live event.

use overseer_domain::AuditAction;
use std::sync::Arc;

use async_trait::async_trait;
use overseer_domain::{SessionId, UserId};
use overseer_ports::agent::{
    HookEvent, HookHandler, HookKind, HookVerdict, PermissionRequest, PermissionVerdict,
};
use serde_json::{Value, json};

use crate::audit::{AuditRecord, AuditService};
use crate::callbacks::permissions::SessionPermissions;
use crate::callbacks::tool_tracking::{ToolEvent, ToolTracker, ToolUse};
use crate::context::Deps;
use overseer_ports::{EventBroadcaster, LiveEvent, LiveEventBody, Scope};

pub struct SessionHooks {
    pub session: SessionId,
    pub owner: UserId,
    pub audit: AuditService,
    pub tracker: Arc<ToolTracker>,
    pub permissions: Arc<SessionPermissions>,
    /// For the live events of the other hooks (and the sequence they carry).
    pub deps: Deps,
    pub broadcaster: Arc<dyn EventBroadcaster>,
}

/// Texts in a hook's details are cut to this many characters in its audit entry and event
/// (a prompt is in the session's messages whole).
const DETAIL_CHARS: usize = 500;

fn cut_texts(value: &Value) -> Value {
    match value {
        Value::String(text) if text.chars().count() > DETAIL_CHARS => {
            let mut cut: String = text.chars().take(DETAIL_CHARS).collect();
            cut.push('…');
            Value::String(cut)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), cut_texts(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(cut_texts).collect()),
        other => other.clone(),
    }
}

fn lifecycle_action(kind: HookKind) -> Option<AuditAction> {
    Some(match kind {
        HookKind::PreToolUse | HookKind::PostToolUse => return None,
        HookKind::UserPromptSubmit => AuditAction::AgentPromptSubmitted,
        HookKind::Stop => AuditAction::AgentStopped,
        HookKind::SubagentStart => AuditAction::SubagentStarted,
        HookKind::SubagentStop => AuditAction::SubagentStopped,
        HookKind::PreCompact => AuditAction::AgentCompacting,
        HookKind::Notification => AuditAction::AgentNotification,
    })
}

impl SessionHooks {
    /// A hook that is not about a tool: audited and announced; the agent goes on.
    async fn lifecycle(&self, action: AuditAction, event: HookEvent) -> HookVerdict {
        let details = cut_texts(&event.details);
        let record = AuditRecord {
            actor: Some(self.owner),
            action,
            resource_type: "session",
            resource_id: Some(self.session.to_string()),
            details: details.clone(),
        };
        if let Err(err) = self.audit.record(record, None).await {
            tracing::error!(session = %self.session, error = %err, "cannot audit an agent hook");
        }
        // The event carries the session's last sequence, like a status change.
        match self
            .deps
            .repos
            .sessions
            .get(self.session, Scope::Admin)
            .await
        {
            Ok(session) => self.broadcaster.publish(LiveEvent {
                session_id: self.session,
                sequence: session.usage.message_count,
                body: LiveEventBody::Hook {
                    hook: event.kind,
                    details,
                },
            }),
            Err(err) => {
                tracing::warn!(session = %self.session, error = %err, "cannot announce an agent hook");
            }
        }
        HookVerdict::Continue
    }
}

impl std::fmt::Debug for SessionHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHooks")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl HookHandler for SessionHooks {
    async fn on_hook(&self, event: HookEvent) -> HookVerdict {
        if let Some(action) = lifecycle_action(event.kind) {
            return self.lifecycle(action, event).await;
        }
        let action = if event.kind == HookKind::PreToolUse {
            AuditAction::ToolPreUse
        } else {
            AuditAction::ToolPostUse
        };
        let record = AuditRecord {
            actor: Some(self.owner),
            action,
            resource_type: "session",
            resource_id: Some(self.session.to_string()),
            details: json!({"tool_name": event.tool_name, "tool_use_id": event.tool_use_id, "tool_input": event.tool_input}),
        };
        let Some(tool_use_id) = event.tool_use_id.as_deref() else {
            // Nothing to track or decide about: audited, and the agent goes on.
            if let Err(err) = self.audit.record(record, None).await {
                tracing::error!(session = %self.session, error = %err, "cannot audit a tool use");
                if event.kind == HookKind::PreToolUse {
                    return HookVerdict::Deny {
                        reason: "the tool use could not be audited".to_owned(),
                    };
                }
            }
            return HookVerdict::Continue;
        };
        if event.kind == HookKind::PreToolUse {
            let request = PermissionRequest {
                tool_name: event.tool_name.clone(),
                input: event.tool_input.clone(),
                tool_use_id: event.tool_use_id.clone(),
                blocked_path: None,
            };
            return match self.permissions.before_use(request, record).await {
                PermissionVerdict::Allow { .. } => HookVerdict::Continue,
                PermissionVerdict::Deny { message, .. } => HookVerdict::Deny { reason: message },
            };
        }
        // After the tool ran there is nothing left to stop: a failure is only logged.
        let tool_use = ToolUse {
            session: self.session,
            tool_use_id,
            tool_name: &event.tool_name,
            input: &event.tool_input,
        };
        let response = event.tool_response.clone().unwrap_or(Value::Null);
        let interrupted = response
            .get("interrupted")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let responded = ToolEvent::Responded {
            response: &response,
            is_error: interrupted,
            duration_ms: event.duration_ms,
        };
        let recorded = self
            .tracker
            .record_audited(
                &self.audit,
                self.session,
                &[(tool_use, responded)],
                vec![record],
            )
            .await;
        if let Err(err) = recorded {
            tracing::error!(session = %self.session, error = %err, "cannot audit a tool use");
        }
        HookVerdict::Continue
    }

    fn kinds(&self) -> &'static [HookKind] {
        HookKind::ALL
    }
}
