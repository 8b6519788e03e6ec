//! The Overseer application: configuration and wiring. `main` and the end-to-end tests build
//! the application through the same [`Application::build`].

pub mod client;
pub mod http_client;
pub mod logging;
pub mod notification_sender;
mod settings;
pub mod settings_table;
mod startup;
pub mod traces;

pub use overseer::DatabaseUrl;
pub use settings::{ConfigError, SandboxMode, Settings};
pub use startup::{AppError, Application, builder, open_store};
