//! Whether an agent is answering something right now, outside of a turn's own bookkeeping.
//!
//! The pool may close an idle agent to give its slot to another session, but never one that
//! waits on its host: a permission request (perhaps a person's approval), a hook, an
//! in-process tool call, or a control request the service sent it. [`Activity::watch`] wraps
//! an agent's callbacks so that each of those counts while it runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use overseer_ports::agent::{
    AgentCallbacks, HookEvent, HookHandler, HookKind, HookVerdict, McpTool, McpToolOutput,
    McpToolServer, PermissionHandler, PermissionRequest, PermissionVerdict,
};
use serde_json::Value;

/// How many requests an agent has open with its host. Cheap to clone; clones share the count.
#[derive(Clone, Debug, Default)]
pub struct Activity(Arc<AtomicUsize>);

/// Counts one open request while it lives.
#[derive(Debug)]
pub struct Busy(Arc<AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Activity {
    /// Whether no request is open.
    #[must_use]
    pub fn is_quiet(&self) -> bool {
        self.0.load(Ordering::SeqCst) == 0
    }

    /// Counts a request until the returned guard is dropped.
    #[must_use]
    pub fn begin(&self) -> Busy {
        self.0.fetch_add(1, Ordering::SeqCst);
        Busy(Arc::clone(&self.0))
    }

    /// The same callbacks, each counting as activity while it runs.
    #[must_use]
    pub fn watch(&self, callbacks: AgentCallbacks) -> AgentCallbacks {
        AgentCallbacks {
            permissions: callbacks.permissions.map(|inner| {
                Arc::new(Watched {
                    inner,
                    activity: self.clone(),
                }) as Arc<dyn PermissionHandler>
            }),
            hooks: callbacks.hooks.map(|inner| {
                Arc::new(Watched {
                    inner,
                    activity: self.clone(),
                }) as Arc<dyn HookHandler>
            }),
            mcp_servers: callbacks
                .mcp_servers
                .into_iter()
                .map(|(name, inner)| {
                    let watched = Arc::new(Watched {
                        inner,
                        activity: self.clone(),
                    }) as Arc<dyn McpToolServer>;
                    (name, watched)
                })
                .collect(),
        }
    }
}

struct Watched<T: ?Sized> {
    inner: Arc<T>,
    activity: Activity,
}

#[async_trait]
impl PermissionHandler for Watched<dyn PermissionHandler> {
    async fn decide(&self, request: PermissionRequest) -> PermissionVerdict {
        let _busy = self.activity.begin();
        self.inner.decide(request).await
    }
}

#[async_trait]
impl HookHandler for Watched<dyn HookHandler> {
    async fn on_hook(&self, event: HookEvent) -> HookVerdict {
        let _busy = self.activity.begin();
        self.inner.on_hook(event).await
    }

    fn kinds(&self) -> &'static [HookKind] {
        self.inner.kinds()
    }
}

#[async_trait]
impl McpToolServer for Watched<dyn McpToolServer> {
    fn tools(&self) -> Vec<McpTool> {
        self.inner.tools()
    }

    async fn call(&self, tool: &str, arguments: Value) -> McpToolOutput {
        let _busy = self.activity.begin();
        self.inner.call(tool, arguments).await
    }
}

#[cfg(test)]
mod tests {
    use overseer_ports::agent::MockHookHandler;
    use tokio::sync::Notify;

    use super::*;

    /// A person who answers only when told to.
    struct SlowPerson(Arc<Notify>);

    #[async_trait]
    impl PermissionHandler for SlowPerson {
        async fn decide(&self, _: PermissionRequest) -> PermissionVerdict {
            self.0.notified().await;
            PermissionVerdict::Allow {
                updated_input: None,
            }
        }
    }

    #[tokio::test]
    async fn a_callback_counts_while_it_runs_and_hooks_keep_their_kinds() {
        let activity = Activity::default();
        let answer = Arc::new(Notify::new());
        let mut hooks = MockHookHandler::new();
        hooks
            .expect_kinds()
            .return_const(&[HookKind::PreToolUse][..]);
        let watched = activity.watch(AgentCallbacks {
            permissions: Some(Arc::new(SlowPerson(answer.clone()))),
            hooks: Some(Arc::new(hooks)),
            mcp_servers: std::collections::BTreeMap::new(),
        });
        assert_eq!(
            watched.hooks.as_ref().unwrap().kinds(),
            &[HookKind::PreToolUse]
        );
        assert!(activity.is_quiet());
        let handler = watched.permissions.unwrap();
        let deciding = tokio::spawn(async move {
            handler
                .decide(PermissionRequest {
                    tool_name: "Bash".into(),
                    input: Value::Null,
                    tool_use_id: None,
                    blocked_path: None,
                })
                .await
        });
        while activity.is_quiet() {
            tokio::task::yield_now().await;
        }
        answer.notify_one();
        deciding.await.unwrap();
        assert!(activity.is_quiet());
    }
}
