//! `overseer`: run the service, or manage its database and users.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::sync::Arc;

use overseer_app::client::{ClientCommand, ClientOptions};
use overseer_app::{Application, Settings, open_store};
use overseer_auth::{Argon2Hasher, JwtIssuer};
use overseer_domain::Role;
use overseer_ports::agent::Secret;
use overseer_services::{AuthConfig, AuthService, Deps};

#[derive(Debug, Parser)]
#[command(
    name = "overseer",
    version,
    about = "Runs Claude Code agents as audited tasks behind a REST API"
)]
struct Cli {
    /// A TOML file of settings (keys as the long flags, with '_'); flags and environment
    /// variables win over it. Default: ./overseer.toml if it exists.
    #[arg(
        long,
        env = "OVERSEER_CONFIG",
        default_value = "overseer.toml",
        global = true
    )]
    config: PathBuf,
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    client: ClientOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply migrations and serve the API.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Print the OpenAPI document.
    Openapi,
    #[command(flatten)]
    Client(ClientCommand),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user (the password is read from OVERSEER_NEW_USER_PASSWORD).
    Create(CreateUser),
}

#[derive(Debug, Args)]
struct CreateUser {
    #[arg(long)]
    email: String,
    /// Make the user an admin.
    #[arg(long)]
    admin: bool,
    #[arg(long, env = "OVERSEER_NEW_USER_PASSWORD", hide_env_values = true)]
    password: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // The client subcommands talk to a server: none of the server's settings apply.
    let command = match cli.command {
        Command::Client(command) => return overseer_app::client::run(cli.client, command).await,
        other => other,
    };
    let config_required = matches!(
        matches.value_source("config"),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    );
    let log_format = cli.settings.log_format;
    let settings = match cli.settings.layered(&matches, &cli.config, config_required) {
        Ok(settings) => settings,
        Err(err) => {
            overseer_app::logging::init(log_format, None);
            tracing::error!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let traces = match settings
        .otlp_endpoint
        .as_deref()
        .map(overseer_app::traces::otlp_provider)
    {
        Some(Ok(provider)) => Some(provider),
        Some(Err(err)) => {
            overseer_app::logging::init(settings.log_format, None);
            tracing::error!("{err}");
            return ExitCode::FAILURE;
        }
        None => None,
    };
    overseer_app::logging::init(settings.log_format, traces.as_ref());
    let outcome: Result<(), Box<dyn std::error::Error>> = match command {
        Command::Serve => serve(&settings).await,
        Command::Migrate => open_store(&settings).await.map(drop).map_err(Into::into),
        Command::User(UserCommand::Create(user)) => create_user(&settings, user).await,
        Command::Client(_) => Ok(()),
        Command::Openapi => {
            use std::io::Write as _;
            std::io::stdout()
                .write_all(overseer_http::openapi::document_json().as_bytes())
                .map_err(Into::into)
        }
    };
    if let Some(provider) = traces
        && let Err(err) = provider.shutdown()
    {
        tracing::warn!(error = %err, "traces not all exported at shutdown");
    }
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut message = err.to_string();
            let mut source = err.source();
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    let app = Application::build(settings).await?;
    tracing::info!(address = %app.address(), "listening");
    app.run_until_stopped().await?;
    Ok(())
}

async fn create_user(
    settings: &Settings,
    user: CreateUser,
) -> Result<(), Box<dyn std::error::Error>> {
    let store = open_store(settings).await?;
    let deps = Deps::system(store.repositories());
    // This command issues no token: the signing key is a throwaway.
    let issuer = JwtIssuer::new(&Secret::new(uuid::Uuid::new_v4().simple().to_string()));
    let auth = AuthService::new(
        deps,
        Arc::new(Argon2Hasher),
        Arc::new(issuer),
        AuthConfig::default(),
    );
    let role = if user.admin { Role::Admin } else { Role::User };
    let created = auth
        .create_user(&user.email, &user.password, role, None)
        .await?;
    tracing::info!(user = %created.id, email = %created.email, role = %created.role, "user created");
    Ok(())
}
