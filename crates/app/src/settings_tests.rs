use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};

use super::*;

/// The command line as `main` has it: the settings, flattened, and the file's path.
#[derive(Debug, Parser)]
struct Cli {
    #[arg(long, default_value = "overseer.toml")]
    config: PathBuf,
    #[command(flatten)]
    settings: Settings,
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("overseer-settings-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Parses `args` as `main` does, over the file holding `toml`.
fn layered(args: &[&str], toml: &str) -> Result<Settings, ConfigError> {
    let dir = temp_dir();
    let path = dir.join("overseer.toml");
    std::fs::write(&path, toml).unwrap();
    let matches = Cli::command()
        .mut_args(|arg| arg.env(None::<&'static str>))
        .try_get_matches_from(std::iter::once("overseer").chain(args.iter().copied()))
        .unwrap();
    let cli = Cli::from_arg_matches(&matches).unwrap();
    let result = cli.settings.layered(&matches, &path, true);
    std::fs::remove_dir_all(dir).unwrap();
    result
}

#[test]
fn default_is_sqlite_in_the_data_dir_on_the_loopback() {
    let settings = Settings::default();
    assert_eq!(
        settings.effective_database_url().expose(),
        "sqlite://./data/overseer.db"
    );
    assert_eq!(settings.bind.to_string(), "127.0.0.1:8080");
    assert!(settings.registration_open);
    assert_eq!(settings.max_live_agents, PoolConfig::DEFAULT_MAX_LIVE);
    assert_eq!(
        settings.execution_timeout(),
        ServicesConfig::DEFAULT_EXECUTION_TIMEOUT
    );
}

#[test]
fn the_command_line_beats_the_file_which_beats_the_default() {
    let settings = layered(
        &["--max-live-agents", "6"],
        "max_live_agents = 8\nwarm_agents = 2\nregistration_open = false\n\
         agent_dir_roots = [\"/srv/repos\"]\n",
    )
    .unwrap();
    assert_eq!(settings.max_live_agents, 6, "the flag wins");
    assert_eq!(settings.warm_agents, 2, "the file overrides a default");
    assert!(!settings.registration_open);
    assert_eq!(settings.agent_dir_roots, vec![PathBuf::from("/srv/repos")]);
    assert_eq!(
        settings.agent_idle_timeout(),
        PoolConfig::DEFAULT_IDLE_TIMEOUT,
        "neither: the default"
    );
    let flag = layered(&["--disable-registration"], "").unwrap();
    assert!(!flag.registration_open);
}

#[test]
fn the_tools_table_comes_from_the_file_only() {
    let settings = layered(
        &[],
        "[tools.monitoring.targets]\ngrafana = \"http://127.0.0.1:3000/api/health\"\n",
    )
    .unwrap();
    assert_eq!(settings.tools.monitoring.targets.len(), 1);
}

#[test]
fn file_errors_name_the_key_and_never_echo_a_value() {
    let err = layered(&[], "jwt_secret = \"leak-me\"\nbnid = 1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("bnid") && !err.contains("leak-me"), "{err}");
    let err = layered(&[], "max_live_agents = \"many-secret\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("max_live_agents") && !err.contains("many-secret"),
        "{err}"
    );
    let err = layered(&[], "default_max_daily_cost_usd = -1.0\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("default_max_daily_cost_usd"), "{err}");
    let dir = temp_dir();
    assert!(read_file(&dir.join("missing.toml"), false).is_ok());
    assert!(read_file(&dir.join("missing.toml"), true).is_err());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn secrets_are_redacted_in_debug() {
    let settings = layered(
        &[],
        "jwt_secret = \"jwt-very-secret\"\ndatabase_url = \"postgres://a:pw-very-secret@h/db\"\n",
    )
    .unwrap();
    assert_eq!(
        settings.jwt_secret.as_ref().map(Secret::expose),
        Some("jwt-very-secret")
    );
    let settings = Settings {
        agent_env: vec![(
            "ANTHROPIC_API_KEY".into(),
            Secret::new("sk-ant-very-secret"),
        )],
        ..settings
    };
    let printed = format!("{settings:?}");
    assert!(!printed.contains("very-secret"), "{printed}");
}

#[test]
fn every_setting_has_a_file_key_a_flag_and_an_environment_variable() {
    let command = Settings::augment_args(clap::Command::new("overseer"));
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        assert!(arg.get_long().is_some(), "{id} has no flag");
        let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
        assert!(env.is_some(), "{id} has no environment variable");
        assert!(arg.get_help().is_some(), "{id} is not documented");
    }
}

/// The README's table is the declaration's: regenerate it with
/// `OVERSEER_WRITE_README=1 cargo test -p overseer-app settings`.
#[test]
fn the_readme_table_is_generated_from_the_declaration() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let table = crate::settings_table::markdown();
    let (Some(start), Some(end)) = (
        readme.find(crate::settings_table::BEGIN),
        readme.find(crate::settings_table::END),
    ) else {
        panic!("the README has no settings table markers");
    };
    let start = start + crate::settings_table::BEGIN.len() + 1;
    if readme[start..end] == table {
        return;
    }
    if std::env::var_os("OVERSEER_WRITE_README").is_some() {
        let updated = format!("{}{table}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!(
        "the README's settings table is out of date: run \
         OVERSEER_WRITE_README=1 cargo test -p overseer-app settings"
    );
}
