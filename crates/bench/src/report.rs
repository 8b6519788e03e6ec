//! Writes a scenario's table into its section of `docs/benchmarks.md`, between
//! `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`, with the command, time and commit.

use std::path::PathBuf;
use std::process::Command;

fn document() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/benchmarks.md")
}

/// What a shell command prints, trimmed ("unknown" if it fails).
fn output_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "unknown".to_owned(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        )
}

/// `text` with the section `name` holding `body` (appended when the markers are missing).
fn with_section(text: &str, name: &str, body: &str) -> String {
    let (open, close) = (
        format!("<!-- bench:{name} -->"),
        format!("<!-- /bench:{name} -->"),
    );
    let section = format!("{open}\n{body}{close}");
    match (text.find(&open), text.find(&close)) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{section}{}", &text[..start], &text[end + close.len()..])
        }
        _ => format!("{}\n## {name}\n\n{section}\n", text.trim_end()),
    }
}

pub fn write_section(name: &str, table: &str) {
    let body = format!(
        "Command: `just bench {name}` — measured {} at commit {}.\n\n{table}",
        output_of("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        output_of("git", &["rev-parse", "--short", "HEAD"]),
    );
    let path = document();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, with_section(&text, name, &body)).expect("write docs/benchmarks.md");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_in_place_or_appended() {
        let text = "# B\n\nintro\n<!-- bench:e2e -->\nold\n<!-- /bench:e2e -->\nafter\n";
        let replaced = with_section(text, "e2e", "new\n");
        assert_eq!(
            replaced,
            "# B\n\nintro\n<!-- bench:e2e -->\nnew\n<!-- /bench:e2e -->\nafter\n"
        );
        let appended = with_section(&replaced, "memory", "rss\n");
        assert!(appended.starts_with(&replaced.trim_end().to_owned()));
        assert!(
            appended.ends_with("## memory\n\n<!-- bench:memory -->\nrss\n<!-- /bench:memory -->\n")
        );
    }
}
