//! The client subcommands: `overseer login`, `task …`, `session tail`, `approvals`,
//! `approve`, `deny`, talking to a running server over its REST API.
//!
//! Exit codes: 0 done (for `task run --follow`: the run completed), 1 the run failed or was
//! cancelled, 2 the command could not be carried out (refused, unreachable, bad input).
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line client: what it prints is its interface"
)]

mod commands;
mod connection;
mod credentials;
mod follow;
mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

/// Where the client connects and how it prints.
#[derive(Debug, Args)]
pub struct ClientOptions {
    /// The server the client subcommands talk to.
    #[arg(
        long,
        env = "OVERSEER_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// Print JSON (one object, or one per line when following) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// A client subcommand.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Sign in to the server; the tokens are kept in the user's config dir.
    Login(LoginArgs),
    /// Forget this server's tokens.
    Logout,
    /// Tasks: list, create, run.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Sessions: follow one live.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Tool uses waiting for you (pending unless --status says otherwise).
    Approvals(ApprovalsArgs),
    /// Allow a waiting tool use.
    Approve(DecideArgs),
    /// Deny a waiting tool use.
    Deny(DecideArgs),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[arg(long)]
    pub email: String,
    /// Read the password from standard input (one line) instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Your tasks.
    List,
    /// Create a task from a JSON file (the body of POST /api/v1/tasks).
    Create {
        /// The task's JSON (`-` for standard input).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Run a task; with --follow, print its session live and exit with its outcome.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The task's id.
    pub id: String,
    /// A variable, `name=value` (repeatable); typed by the task's variable specs.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Print the run live and wait for its end; exit 0 only if it completed.
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Print a session's messages live (Ctrl-C to stop).
    Tail {
        /// The session's id.
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    /// pending (default), allowed, denied or expired.
    #[arg(long, default_value = "pending")]
    pub status: String,
    /// Everyone's (admins only).
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The approval's id (see `overseer approvals`).
    pub id: String,
}

/// What stops a client command.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("not signed in to {0}: run `overseer login --email …`")]
    NotSignedIn(String),
    #[error("cannot reach {server}: {source}")]
    Unreachable {
        server: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("HTTP {status}: {detail}{}", fields.iter().map(|f| format!("\n  {f}")).collect::<String>())]
    Api {
        status: u16,
        detail: String,
        fields: Vec<String>,
    },
    #[error("{0}")]
    Http(#[source] reqwest::Error),
    #[error("the credentials file {}: {reason}", path.display())]
    Credentials { path: PathBuf, reason: String },
    #[error("no config dir on this platform to keep the tokens in")]
    NoConfigDir,
    #[error("{0}")]
    Input(String),
}

/// Runs `command`; see the module's exit codes.
pub async fn run(options: ClientOptions, command: ClientCommand) -> ExitCode {
    match commands::run(&options, command).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
