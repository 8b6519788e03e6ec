//! The Overseer application: configuration and wiring. `main` and the end-to-end tests build
//! the application through the same [`Application::build`].

mod config;
pub mod logging;
mod startup;
pub mod traces;

pub use config::{ConfigError, DatabaseUrl, FileSettings, SandboxMode, Settings, layered};
pub use startup::{AgentSetup, AppError, Application, check_agent_runtime, open_store, wire};
