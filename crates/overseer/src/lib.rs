//! Overseer as a library: run Claude Code agents as audited, persistent tasks inside your own
//! Rust service, with your own adapters.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let overseer = overseer::Overseer::builder()
//!     .data_dir("./data")                 // SQLite in ./data unless .database_url(…)
//!     .start()                            // what `overseer serve` does before it listens
//!     .await?;
//! let owner = overseer.service_account("nightly-checks").await?;
//! // … overseer.services().tasks.create / execute, overseer.wait(…), overseer.execution_events(…)
//! overseer.shutdown(std::time::Duration::from_secs(30)).await;
//! # Ok(()) }
//! ```
//!
//! [`Overseer::builder`] takes a database URL or a ready [`Store`], the Claude CLI's settings
//! ([`ClaudeAgents`]) or any [`ports::agent::AgentRunner`], any broadcaster and subscriber,
//! telemetry and the services' configuration; [`OverseerBuilder::start`] does everything
//! `overseer serve` does before it listens (migrations, persistent node id, orphan reaping,
//! sandbox detection with the same warning, the background loops) and returns the handle.
//! `overseer serve` itself is built on it. With the `http` feature, [`Overseer::http_api`]
//! mounts the REST API into an actix-web app. Features `sqlite` and `postgres` choose the
//! database drivers compiled in.
#![warn(missing_docs)]

mod builder;
mod database_url;
mod error;
mod execution_events;
mod handle;
#[cfg(feature = "http")]
mod http;
mod node;

pub use builder::{ClaudeAgents, OverseerBuilder, anthropic_env_from_process, open_store};
pub use database_url::DatabaseUrl;
pub use error::StartError;
pub use execution_events::{ExecutionEvent, ExecutionEvents};
pub use handle::Overseer;
#[cfg(feature = "http")]
pub use http::{HttpApi, HttpOptions};
pub use node::SandboxMode;
pub use overseer_store::Store;

/// The domain: tasks, sessions, executions, options … (`overseer-domain`).
pub use overseer_domain as domain;
/// The ports an adapter implements (`overseer-ports`).
pub use overseer_ports as ports;
/// The use cases (`overseer-services`).
pub use overseer_services as services;
