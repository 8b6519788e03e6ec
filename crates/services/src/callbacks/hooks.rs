//! The hooks of a session: audit and tool tracking before and after every tool use, and the
//! permission policy before it (the only callback that fires for every tool use).

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
use crate::callbacks::tool_tracking::{ToolTracker, ToolUse};

pub struct SessionHooks {
    pub session: SessionId,
    pub owner: UserId,
    pub audit: AuditService,
    pub tracker: Arc<ToolTracker>,
    pub permissions: Arc<SessionPermissions>,
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
        let action = match event.kind {
            HookKind::PreToolUse => AuditAction::ToolPreUse,
            HookKind::PostToolUse => AuditAction::ToolPostUse,
        };
        let record = AuditRecord {
            actor: Some(self.owner),
            action,
            resource_type: "session",
            resource_id: Some(self.session.to_string()),
            details: json!({"tool_name": event.tool_name, "tool_use_id": event.tool_use_id, "tool_input": event.tool_input}),
        };
        if let Err(err) = self.audit.record(record, None).await {
            // Fail closed before a tool runs; after it ran there is nothing left to stop.
            tracing::error!(session = %self.session, error = %err, "cannot audit a tool use");
            if event.kind == HookKind::PreToolUse {
                return HookVerdict::Deny {
                    reason: "the tool use could not be audited".to_owned(),
                };
            }
        }
        let Some(tool_use_id) = event.tool_use_id.as_deref() else {
            return HookVerdict::Continue;
        };
        let tool_use = ToolUse {
            session: self.session,
            tool_use_id,
            tool_name: &event.tool_name,
            input: &event.tool_input,
        };
        let tracked = match event.kind {
            HookKind::PreToolUse => {
                if let Err(err) = self.tracker.started(&tool_use).await {
                    tracing::warn!(session = %self.session, error = %err, "tool tracking failed");
                }
                let request = PermissionRequest {
                    tool_name: event.tool_name.clone(),
                    input: event.tool_input.clone(),
                    tool_use_id: event.tool_use_id.clone(),
                    blocked_path: None,
                };
                return match self.permissions.decide_once(request).await {
                    PermissionVerdict::Allow { .. } => HookVerdict::Continue,
                    PermissionVerdict::Deny { message, .. } => {
                        HookVerdict::Deny { reason: message }
                    }
                };
            }
            HookKind::PostToolUse => {
                let response = event.tool_response.clone().unwrap_or(Value::Null);
                let interrupted = response
                    .get("interrupted")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                self.tracker
                    .responded(&tool_use, &response, interrupted, event.duration_ms)
                    .await
            }
        };
        if let Err(err) = tracked {
            tracing::warn!(session = %self.session, error = %err, "tool tracking failed");
        }
        HookVerdict::Continue
    }
}
