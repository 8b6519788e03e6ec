//! The README's table of settings, generated from the declaration in [`crate::Settings`].

use clap::{Args, Command};

use crate::Settings;

/// Marks the start of the generated table in the README.
pub const BEGIN: &str = "<!-- settings table: generated from crates/app/src/settings.rs -->";
/// Marks its end.
pub const END: &str = "<!-- end of settings table -->";

/// One row per setting: its key in the file, its flag, its environment variable, its default
/// and what it does, as markdown.
#[must_use]
pub fn markdown() -> String {
    let mut command = Settings::augment_args(Command::new("overseer"));
    // Building fills in the defaults that come from an argument's action (a flag's `true`).
    command.build();
    let mut table = String::from(
        "| file key | flag | environment | default | what it does |\n|---|---|---|---|---|\n",
    );
    for arg in command.get_arguments() {
        let key = arg.get_id().as_str();
        let flag = arg
            .get_long()
            .map_or_else(String::new, |long| format!("`--{long}`"));
        let env = arg
            .get_env()
            .map_or_else(String::new, |env| format!("`{}`", env.to_string_lossy()));
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| format!("`{}`", value.to_string_lossy()))
            .collect();
        let default = if defaults.is_empty() {
            "unset".to_owned()
        } else {
            defaults.join(", ")
        };
        let help = arg
            .get_long_help()
            .or_else(|| arg.get_help())
            .map(|help| help.to_string())
            .unwrap_or_default();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        let help = help.replace('|', "\\|");
        table.push_str(&format!(
            "| `{key}` | {flag} | {env} | {default} | {help} |\n"
        ));
    }
    table.push_str(
        "| `[tools]` | | | none | The built-in tool servers (file only): named database \
         connections, monitoring targets, kubeconfigs; see below. |\n",
    );
    table
}
