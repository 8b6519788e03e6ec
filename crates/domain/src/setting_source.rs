//! Which of the CLI's own settings files an agent loads (`--setting-sources`).

use crate::string_enum::string_enum;

string_enum!(
    /// A settings file of the CLI: the user's (`~/.claude`), the project's (`.claude/` in the
    /// working directory, shared), or the local one (`.claude/settings.local.json`).
    SettingSource("setting_sources") {
        User => "user",
        Project => "project",
        Local => "local",
    }
);
