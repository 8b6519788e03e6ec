//! Whether this node can run agents at all, as found at start-up: the CLI answered
//! `--version`, and the sandbox works when it is required. A node without a runtime still
//! serves everything else, but refuses work that needs an agent instead of storing a run that
//! can only fail.

use async_trait::async_trait;
use overseer_ports::HealthProbe;

use crate::error::ServiceError;

/// The node's agent runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentRuntime {
    /// Agents can start; `version` is what the CLI said it is.
    Ready {
        /// The CLI's version.
        version: String,
    },
    /// Agents cannot start; `reason` (for operators' logs) says why and how to fix it.
    Unavailable {
        /// Why, and how to fix it.
        reason: String,
    },
}

impl Default for AgentRuntime {
    /// Ready, unchecked: for embedders and tests that bring their own runner.
    fn default() -> Self {
        Self::Ready {
            version: "unchecked".to_owned(),
        }
    }
}

impl AgentRuntime {
    /// Admits work that needs an agent.
    ///
    /// # Errors
    /// [`ServiceError::AgentRuntimeUnavailable`] when the node has no runtime.
    pub fn admit(&self) -> Result<(), ServiceError> {
        match self {
            Self::Ready { .. } => Ok(()),
            Self::Unavailable { .. } => Err(ServiceError::AgentRuntimeUnavailable),
        }
    }
}

#[async_trait]
impl HealthProbe for AgentRuntime {
    fn component(&self) -> &'static str {
        "agent_runtime"
    }

    fn essential(&self) -> bool {
        false
    }

    async fn check(&self) -> Result<(), String> {
        match self {
            Self::Ready { .. } => Ok(()),
            Self::Unavailable { reason } => Err(reason.clone()),
        }
    }
}
