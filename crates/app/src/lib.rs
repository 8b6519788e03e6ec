//! The Overseer application: configuration and wiring. `main` and the end-to-end tests build
//! the application through the same [`Application::build`].

mod database_url;
pub mod logging;
mod settings;
pub mod settings_table;
mod startup;
pub mod traces;

pub use database_url::DatabaseUrl;
pub use settings::{ConfigError, SandboxMode, Settings, agent_env_from_process};
pub use startup::{AgentSetup, AppError, Application, check_agent_runtime, open_store, wire};
