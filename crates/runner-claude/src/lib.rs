//! The agent runner adapter: drives the Claude Code CLI as a subprocess over its stream-json
//! control protocol (`shared/spec/agent-protocol.md`).
//!
//! [`ClaudeRunner`] implements the [`overseer_ports::agent::AgentRunner`] port. Each session is
//! one CLI process in its own process group; a reader task demultiplexes its stdout into
//! replies to our control requests, the CLI's own requests (answered on separate tasks through
//! the callbacks) and typed events.

mod args;
mod callbacks;
mod cli_check;
mod containment;
mod frames;
mod lines;
mod lookup;
mod process;
mod records;
mod runner;
mod sandbox;
mod session;
pub mod transcript;

pub use args::{LaunchExtras, build_args};
pub use cli_check::{
    CliCheckError, CliFound, OLDEST_TESTED_VERSION, PROJECT_CLI, check_cli, cli_version, locate_cli,
};
pub use containment::Containment;
pub use lookup::find_on_path;
pub use records::ProcessRecords;
pub use runner::{ClaudeConfig, ClaudeRunner};
pub use sandbox::Sandbox;
pub use session::ClaudeSession;
