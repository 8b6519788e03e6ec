//! The permission policy: decides each tool use from the session's rules, audits every
//! decision, and records it on the tool call.
//!
//! The CLI sends `can_use_tool` only for tools it does not consider safe on its own (it runs
//! `echo` or `sleep` without asking), so the policy is applied from the PreToolUse hook, which
//! fires before every tool use; a later `can_use_tool` for the same tool use gets the same
//! answer without a second decision or audit entry.
//!
//! Rules, first match wins: `disallowed_tools` → deny; `ask_tools` → ask a person (see
//! [`crate::approvals`]); `allowed_tools` → allow; otherwise allow when there is no allow list
//! and deny when there is one. A pattern is a tool name glob (`mcp__k8s__*`) with an optional
//! argument pattern: `Bash(kubectl get:*)` matches commands starting with `kubectl get`,
//! `Read(/srv/*)` matches paths by glob.

use overseer_domain::AuditAction;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use overseer_domain::{AgentOptions, PermissionDecision, SessionId, ToolPattern, UserId};
use overseer_ports::agent::{PermissionHandler, PermissionRequest, PermissionVerdict};
use overseer_ports::{ApprovalResult, NoTelemetry, Telemetry};
use tracing::Instrument;

use crate::traces::TraceSpans;
use serde_json::{Value, json};

use crate::approvals::{ApprovalGate, ApprovalOutcome};
use crate::audit::{AuditRecord, AuditService};
use crate::callbacks::tool_tracking::{ToolEvent, ToolTracker, ToolUse};
use crate::error::ServiceError;

/// What the rules say about one tool use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    Allow { reason: String },
    Deny { reason: String },
    Ask { reason: String },
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut remainder) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = rest.split('*').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        if last {
            return remainder.ends_with(part);
        }
        match remainder.find(part) {
            Some(at) => remainder = &remainder[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The argument a pattern's parentheses constrain: the command of a shell tool, else a path or URL.
fn primary_argument<'a>(tool: &str, input: &'a Value) -> Option<&'a str> {
    let keys: &[&str] = if tool == "Bash" {
        &["command"]
    } else {
        &["file_path", "path", "url", "pattern"]
    };
    keys.iter()
        .find_map(|k| input.get(*k).and_then(Value::as_str))
}

/// Whether `pattern` covers this use of `tool` with `input`.
#[must_use]
pub fn matches(pattern: &ToolPattern, tool: &str, input: &Value) -> bool {
    if !glob(pattern.tool_name(), tool) {
        return false;
    }
    let Some(argument_pattern) = pattern.argument_pattern() else {
        return true;
    };
    let Some(argument) = primary_argument(tool, input) else {
        return false;
    };
    match argument_pattern.strip_suffix(":*") {
        Some(prefix) => argument == prefix || argument.starts_with(&format!("{prefix} ")),
        None => glob(argument_pattern, argument),
    }
}

/// Applies the session's rules to one tool use.
#[must_use]
pub fn evaluate(options: &AgentOptions, tool: &str, input: &Value) -> Rule {
    let first =
        |patterns: &[ToolPattern]| patterns.iter().find(|p| matches(p, tool, input)).cloned();
    if let Some(rule) = first(&options.disallowed_tools) {
        return Rule::Deny {
            reason: format!("Denied by policy: {tool} matches disallowed rule '{rule}'"),
        };
    }
    if let Some(rule) = first(&options.ask_tools) {
        return Rule::Ask {
            reason: format!("{tool} matches rule '{rule}', which needs approval"),
        };
    }
    if let Some(rule) = first(&options.allowed_tools) {
        return Rule::Allow {
            reason: format!("allowed by rule '{rule}'"),
        };
    }
    if options.allowed_tools.is_empty() {
        Rule::Allow {
            reason: "no allow list restricts tools".to_owned(),
        }
    } else {
        Rule::Deny {
            reason: format!("Denied by policy: {tool} is not in the allowed tools"),
        }
    }
}

/// The permission handler of one session.
pub struct SessionPermissions {
    pub session: SessionId,
    pub owner: UserId,
    pub options: AgentOptions,
    pub audit: AuditService,
    pub tracker: Arc<ToolTracker>,
    pub approvals: Option<Arc<ApprovalGate>>,
    /// Decisions already made, by tool use id.
    pub decided: Mutex<HashMap<String, PermissionVerdict>>,
    pub telemetry: Arc<dyn Telemetry>,
    /// Where a tool call's span is found, for the approval wait under it.
    pub traces: TraceSpans,
}

impl std::fmt::Debug for SessionPermissions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionPermissions")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// What a decision answers the agent.
fn verdict(allowed: bool, reason: &str) -> PermissionVerdict {
    if allowed {
        PermissionVerdict::Allow {
            updated_input: None,
        }
    } else {
        PermissionVerdict::Deny {
            message: reason.to_owned(),
            interrupt: false,
        }
    }
}

fn decision(allowed: bool) -> PermissionDecision {
    if allowed {
        PermissionDecision::Allowed
    } else {
        PermissionDecision::Denied
    }
}

/// The answer when a decision, or the tool use it is about, cannot be audited: fail closed.
fn unaudited() -> PermissionVerdict {
    PermissionVerdict::Deny {
        message: "Denied: the decision could not be audited".to_owned(),
        interrupt: false,
    }
}

impl SessionPermissions {
    /// The audit entry of a decision.
    fn decision_record(
        &self,
        request: &PermissionRequest,
        allowed: bool,
        reason: &str,
        via: &str,
    ) -> AuditRecord<'static> {
        let action = if allowed {
            AuditAction::ToolPermissionGranted
        } else {
            AuditAction::ToolPermissionDenied
        };
        let details = json!({
            "session_id": self.session, "tool_name": request.tool_name, "tool_use_id": request.tool_use_id,
            "tool_input": request.input, "reason": reason, "decided_by": via,
        });
        AuditRecord {
            actor: Some(self.owner),
            action,
            resource_type: "session",
            resource_id: Some(self.session.to_string()),
            details,
        }
    }

    /// Audits the policy's or a person's decision and writes it on the tool call, in one
    /// write. Fail closed: a decision that cannot be stored is not made.
    async fn conclude(
        &self,
        request: &PermissionRequest,
        allowed: bool,
        reason: &str,
        via: &str,
    ) -> PermissionVerdict {
        match self
            .store(request, None, Some((allowed, reason, via)))
            .await
        {
            Ok(()) => verdict(allowed, reason),
            Err(err) => {
                tracing::error!(session = %self.session, error = %err, "cannot audit a permission decision; denying");
                unaudited()
            }
        }
    }

    /// Stores, in one write, `pre_use` (the PreToolUse hook's audit entry) with the tool call
    /// started, and `decided` (allowed, reason, decided by) with its audit entry and the
    /// decision on the tool call; either may be absent.
    async fn store(
        &self,
        request: &PermissionRequest,
        pre_use: Option<AuditRecord<'_>>,
        decided: Option<(bool, &str, &str)>,
    ) -> Result<(), ServiceError> {
        let tool_use = request.tool_use_id.as_deref().map(|id| ToolUse {
            session: self.session,
            tool_use_id: id,
            tool_name: &request.tool_name,
            input: &request.input,
        });
        let mut records = Vec::with_capacity(2);
        let mut events = Vec::with_capacity(2);
        if let Some(pre_use) = pre_use {
            records.push(pre_use);
            events.extend(tool_use.clone().map(|t| (t, ToolEvent::Started)));
        }
        if let Some((allowed, reason, via)) = decided {
            records.push(self.decision_record(request, allowed, reason, via));
            events.extend(tool_use.map(|t| (t, ToolEvent::Decided(decision(allowed)))));
        }
        self.tracker
            .record_audited(&self.audit, self.session, &events, records)
            .await
    }

    /// The PreToolUse hook of `request`'s tool use: the tool is about to run. Its audit
    /// entry `pre_use`, its tool call and, when the policy decides at once, the decision and
    /// its audit entry are stored in one write, before the answer. A use that needs a person's
    /// approval stores the first two, then asks. Fails closed: a use that cannot be stored is
    /// denied.
    pub async fn before_use(
        &self,
        request: PermissionRequest,
        pre_use: AuditRecord<'_>,
    ) -> PermissionVerdict {
        let started = std::time::Instant::now();
        let decided = match self.known(&request) {
            Some(_) => None,
            None => match evaluate(&self.options, &request.tool_name, &request.input) {
                Rule::Allow { reason } => Some((true, reason)),
                Rule::Deny { reason } => Some((false, reason)),
                Rule::Ask { .. } => None,
            },
        };
        let recorded = self
            .store(
                &request,
                Some(pre_use),
                decided
                    .as_ref()
                    .map(|(allowed, reason)| (*allowed, reason.as_str(), "policy")),
            )
            .await;
        if let Err(err) = recorded {
            tracing::error!(session = %self.session, error = %err, "cannot audit a tool use; denying");
            return unaudited();
        }
        match decided {
            Some((allowed, reason)) => {
                let verdict = verdict(allowed, &reason);
                self.telemetry
                    .permission_decided(decision(allowed), started.elapsed());
                self.remember(&request, &verdict);
                verdict
            }
            None => self.decide_once(request).await,
        }
    }

    /// The decision already made about this tool use, if any.
    fn known(&self, request: &PermissionRequest) -> Option<PermissionVerdict> {
        let id = request.tool_use_id.as_ref()?;
        self.decided
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    fn remember(&self, request: &PermissionRequest, verdict: &PermissionVerdict) {
        if let Some(id) = &request.tool_use_id {
            self.decided
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id.clone(), verdict.clone());
        }
    }
}

impl SessionPermissions {
    #[must_use]
    pub fn new(
        session: SessionId,
        owner: UserId,
        options: AgentOptions,
        audit: AuditService,
        tracker: Arc<ToolTracker>,
        approvals: Option<Arc<ApprovalGate>>,
    ) -> Self {
        Self {
            session,
            owner,
            options,
            audit,
            tracker,
            approvals,
            decided: Mutex::new(HashMap::new()),
            telemetry: Arc::new(NoTelemetry),
            traces: TraceSpans::default(),
        }
    }

    /// Finds tool call spans in `traces`, for the approval waits under them.
    #[must_use]
    pub fn with_traces(mut self, traces: TraceSpans) -> Self {
        self.traces = traces;
        self
    }

    /// Reports each decision and its wait to `telemetry`.
    #[must_use]
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Decides a tool use once; asking again about the same tool use id returns that decision.
    pub async fn decide_once(&self, request: PermissionRequest) -> PermissionVerdict {
        if let Some(verdict) = self.known(&request) {
            return verdict;
        }
        let started = std::time::Instant::now();
        let verdict = self.decide_now(&request).await;
        let decided = match verdict {
            PermissionVerdict::Allow { .. } => PermissionDecision::Allowed,
            PermissionVerdict::Deny { .. } => PermissionDecision::Denied,
        };
        self.telemetry
            .permission_decided(decided, started.elapsed());
        self.remember(&request, &verdict);
        verdict
    }

    async fn decide_now(&self, request: &PermissionRequest) -> PermissionVerdict {
        let request = request.clone();
        match evaluate(&self.options, &request.tool_name, &request.input) {
            Rule::Allow { reason } => self.conclude(&request, true, &reason, "policy").await,
            Rule::Deny { reason } => self.conclude(&request, false, &reason, "policy").await,
            Rule::Ask { reason } => {
                let Some(gate) = &self.approvals else {
                    return self
                        .conclude(
                            &request,
                            false,
                            "Denied: approval required and no approver is configured",
                            "policy",
                        )
                        .await;
                };
                let asked = std::time::Instant::now();
                let tool = self.traces.tool(
                    self.session,
                    request.tool_use_id.as_deref().unwrap_or_default(),
                    &request.tool_name,
                );
                let wait = tracing::info_span!(parent: &tool, "approval.wait", gen_ai.tool.name = %request.tool_name);
                let outcome = gate
                    .ask(self.session, self.owner, &request, &reason)
                    .instrument(wait)
                    .await;
                let result = match &outcome {
                    ApprovalOutcome::Allowed { .. } => ApprovalResult::Approved,
                    ApprovalOutcome::Denied { .. } => ApprovalResult::Denied,
                    ApprovalOutcome::Expired => ApprovalResult::Expired,
                    ApprovalOutcome::Failed(_) => ApprovalResult::Failed,
                };
                self.telemetry.approval_decided(result, asked.elapsed());
                match outcome {
                    ApprovalOutcome::Allowed { by } => {
                        self.conclude(&request, true, "approved", &format!("user:{by}"))
                            .await
                    }
                    ApprovalOutcome::Denied { by } => {
                        self.conclude(&request, false, "Denied by approver", &format!("user:{by}"))
                            .await
                    }
                    ApprovalOutcome::Expired => {
                        self.conclude(&request, false, "Denied: approval timed out", "timeout")
                            .await
                    }
                    ApprovalOutcome::Failed(why) => {
                        self.conclude(&request, false, &format!("Denied: {why}"), "policy")
                            .await
                    }
                }
            }
        }
    }
}

#[async_trait]
impl PermissionHandler for SessionPermissions {
    async fn decide(&self, request: PermissionRequest) -> PermissionVerdict {
        self.decide_once(request).await
    }
}

#[cfg(test)]
mod tests {
    use overseer_domain::{ToolCallStatus, UserId};
    use overseer_ports::repositories::MockAuditLogRepository;
    use overseer_ports::{RepoError, Repositories};
    use overseer_testkit::{MemoryStore, fixtures};
    use serde_json::json;

    use super::*;
    use crate::context::Deps;

    fn options(value: Value) -> AgentOptions {
        AgentOptions::from_json(value).unwrap()
    }

    /// The permissions of a session whose audit trail is `audit`, over an in-memory store
    /// (which gets the tool call writes `audit` passes on).
    async fn permissions_with(
        audit: MockAuditLogRepository,
        rules: Value,
    ) -> (Repositories, SessionId, SessionPermissions) {
        let store = MemoryStore::new();
        let mut repos = store.repositories();
        let owner = fixtures::user("a@example.com");
        repos.users.insert(&owner).await.unwrap();
        let session = fixtures::session(owner.id, fixtures::EPOCH);
        repos.sessions.insert(&session).await.unwrap();
        repos.audit_logs = Arc::new(audit);
        let deps = Deps::system(repos.clone());
        let permissions = SessionPermissions::new(
            session.id,
            owner.id,
            options(rules),
            AuditService::new(deps.clone()),
            Arc::new(ToolTracker::new(deps)),
            None,
        );
        (repos, session.id, permissions)
    }

    fn bash(command: &str) -> PermissionRequest {
        PermissionRequest {
            tool_name: "Bash".to_owned(),
            input: json!({"command": command}),
            tool_use_id: Some("toolu_1".to_owned()),
            blocked_path: None,
        }
    }

    fn pre_use(owner: UserId) -> AuditRecord<'static> {
        AuditRecord {
            actor: Some(owner),
            action: AuditAction::ToolPreUse,
            resource_type: "session",
            resource_id: None,
            details: json!({}),
        }
    }

    /// What the PreToolUse hook learns, and the policy's decision, cost the agent one write:
    /// both audit entries and the tool call, started and decided, together.
    #[tokio::test]
    async fn a_policy_decision_is_stored_with_its_tool_use_in_one_write() {
        let mut audit = MockAuditLogRepository::new();
        audit.expect_append().never();
        audit
            .expect_append_with()
            .times(1)
            .withf(|entries, writes| {
                let actions: Vec<AuditAction> = entries.iter().map(|e| e.action).collect();
                actions == [AuditAction::ToolPreUse, AuditAction::ToolPermissionGranted]
                    && writes.len() == 1
                    && writes[0].call.status == ToolCallStatus::Running
                    && writes[0].call.permission_decision == Some(PermissionDecision::Allowed)
            })
            .returning(|_, _| Ok(()));
        let (_, _, permissions) = permissions_with(audit, json!({"allowed_tools": ["Bash"]})).await;
        let owner = permissions.owner;
        let verdict = permissions.before_use(bash("ls"), pre_use(owner)).await;
        assert!(
            matches!(verdict, PermissionVerdict::Allow { .. }),
            "{verdict:?}"
        );
        // The CLI's `can_use_tool` for the same use gets the same answer, with no new write.
        let again = permissions.decide_once(bash("ls")).await;
        assert!(
            matches!(again, PermissionVerdict::Allow { .. }),
            "{again:?}"
        );
    }

    /// Fail closed: a tool use whose audit entries cannot be stored does not run, and no tool
    /// call is left behind.
    #[tokio::test]
    async fn a_tool_use_that_cannot_be_audited_is_denied() {
        let mut audit = MockAuditLogRepository::new();
        audit
            .expect_append_with()
            .returning(|_, _| Err(RepoError::Unavailable("disk full".into())));
        let (repos, session, permissions) =
            permissions_with(audit, json!({"allowed_tools": ["Bash"]})).await;
        let owner = permissions.owner;
        let verdict = permissions.before_use(bash("ls"), pre_use(owner)).await;
        assert!(
            matches!(verdict, PermissionVerdict::Deny { .. }),
            "{verdict:?}"
        );
        let stored = repos
            .tool_calls
            .find_by_tool_use_id(session, "toolu_1")
            .await
            .unwrap();
        assert_eq!(stored, None);
    }

    #[test]
    fn globs() {
        assert!(glob("mcp__k8s__*", "mcp__k8s__get_pods"));
        assert!(!glob("mcp__k8s__*", "mcp__db__query"));
        assert!(glob("*", "Anything"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("a*c*e", "abcd"));
        assert!(glob("Read", "Read"));
        assert!(!glob("Read", "ReadX"));
    }

    #[test]
    fn bash_prefix_rules() {
        let rule = ToolPattern::new("Bash(kubectl get:*)").unwrap();
        assert!(matches(
            &rule,
            "Bash",
            &json!({"command": "kubectl get pods -n prod"})
        ));
        assert!(matches(&rule, "Bash", &json!({"command": "kubectl get"})));
        assert!(!matches(&rule, "Bash", &json!({"command": "kubectl getx"})));
        assert!(!matches(
            &rule,
            "Bash",
            &json!({"command": "kubectl delete pod x"})
        ));
        assert!(!matches(
            &rule,
            "Read",
            &json!({"file_path": "kubectl get"})
        ));
        let exact = ToolPattern::new("Bash(ls)").unwrap();
        assert!(matches(&exact, "Bash", &json!({"command": "ls"})));
        assert!(!matches(&exact, "Bash", &json!({"command": "ls -la"})));
        let path = ToolPattern::new("Read(/srv/*)").unwrap();
        assert!(matches(
            &path,
            "Read",
            &json!({"file_path": "/srv/app/config.yaml"})
        ));
        assert!(!matches(
            &path,
            "Read",
            &json!({"file_path": "/etc/passwd"})
        ));
    }

    #[test]
    fn deny_wins_then_ask_then_allow() {
        let opts = options(json!({
            "allowed_tools": ["Bash", "mcp__k8s__*"],
            "disallowed_tools": ["Bash(rm:*)"],
            "ask_tools": ["Bash(kubectl delete:*)"]
        }));
        assert!(matches!(
            evaluate(&opts, "Bash", &json!({"command": "rm -rf /"})),
            Rule::Deny { .. }
        ));
        assert!(matches!(
            evaluate(&opts, "Bash", &json!({"command": "kubectl delete pod x"})),
            Rule::Ask { .. }
        ));
        assert!(matches!(
            evaluate(&opts, "Bash", &json!({"command": "echo hi"})),
            Rule::Allow { .. }
        ));
        assert!(matches!(
            evaluate(&opts, "mcp__k8s__get_pods", &json!({})),
            Rule::Allow { .. }
        ));
        let Rule::Deny { reason } = evaluate(&opts, "Write", &json!({"file_path": "/x"})) else {
            panic!()
        };
        assert!(reason.contains("not in the allowed tools"));
    }

    #[test]
    fn no_allow_list_allows_what_is_not_denied() {
        let opts = options(json!({"disallowed_tools": ["Write"]}));
        assert!(matches!(
            evaluate(&opts, "Read", &json!({})),
            Rule::Allow { .. }
        ));
        assert!(matches!(
            evaluate(&opts, "Write", &json!({})),
            Rule::Deny { .. }
        ));
    }
}
