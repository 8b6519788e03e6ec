//! The service's own tool servers, served to agents in-process (over the CLI's `mcp_message`
//! tunnel): `kubernetes_readonly`, `database` and `monitoring`. Each reads only what an admin
//! configured (`[tools]` in the service's configuration) and answers failures as tool errors
//! the model can read.

mod database;
mod http_client;
mod kubernetes;
mod monitoring;
mod tool;

use std::sync::Arc;

use overseer_ports::agent::ToolServerFactory;
use serde::Deserialize;

pub use database::{ConnectionUrl, DatabaseConfig};
pub use kubernetes::KubernetesConfig;
pub use monitoring::MonitoringConfig;

/// The names tasks enable the servers by (`builtin_servers`).
pub const KUBERNETES: &str = "kubernetes_readonly";
pub const DATABASE: &str = "database";
pub const MONITORING: &str = "monitoring";

/// The `[tools]` table of the service's configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolsConfig {
    pub kubernetes: KubernetesConfig,
    pub database: DatabaseConfig,
    pub monitoring: MonitoringConfig,
}

/// A setting under `[tools]` that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("tools.{key}: {reason}")]
pub struct ToolsConfigError {
    pub key: String,
    pub reason: String,
}

impl ToolsConfigError {
    pub(crate) fn new(key: &str, reason: impl std::fmt::Display) -> Self {
        Self {
            key: key.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// A built-in server and the name tasks enable it by.
pub type NamedServer = (&'static str, Arc<dyn ToolServerFactory>);

/// Every built-in server with its name, ready to be offered to tasks.
///
/// # Errors
/// [`ToolsConfigError`] for a setting that cannot be used.
pub fn builtin_servers(config: &ToolsConfig) -> Result<Vec<NamedServer>, ToolsConfigError> {
    Ok(vec![
        (
            KUBERNETES,
            Arc::new(kubernetes::KubernetesFactory::new(&config.kubernetes)?),
        ),
        (
            DATABASE,
            Arc::new(database::DatabaseFactory::new(&config.database)?),
        ),
        (
            MONITORING,
            Arc::new(monitoring::MonitoringFactory(Arc::new(
                monitoring::Monitoring::new(&config.monitoring)?,
            ))),
        ),
    ])
}
