//! Where the CLI keeps a conversation's transcript (agent-protocol.md, "Transcript"):
//! `<config dir>/projects/<munged cwd>/<session id>.jsonl`, and the cost it carries over when
//! the conversation is resumed.

use std::path::{Path, PathBuf};

use serde_json::Value;

const MAX_MUNGED: usize = 200;

/// Java's `String.hashCode` over UTF-16 code units, as the CLI computes it.
fn java_hash(text: &str) -> i32 {
    text.encode_utf16().fold(0_i32, |hash, unit| {
        hash.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".to_owned();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The directory name the CLI derives from an absolute working directory.
#[must_use]
pub fn munge(cwd: &str) -> String {
    let munged: String = cwd
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if munged.chars().count() <= MAX_MUNGED {
        return munged;
    }
    let head: String = munged.chars().take(MAX_MUNGED).collect();
    format!(
        "{head}-{}",
        base36(i64::from(java_hash(cwd)).unsigned_abs())
    )
}

/// The transcript file of `session_id` run in `cwd`, under the CLI's configuration directory.
#[must_use]
pub fn path(config_dir: &Path, cwd: &Path, session_id: &str) -> PathBuf {
    config_dir
        .join("projects")
        .join(munge(&cwd.display().to_string()))
        .join(format!("{session_id}.jsonl"))
}

/// The cost a CLI resuming this transcript starts its running total from: the last
/// `{"type":"cost-state","totalCostUSD":…}` line (written by CLIs that carry cost over, such as
/// 2.1.332), or 0 when there is none (older CLIs, e.g. 2.1.197, start every process at 0).
#[must_use]
pub fn carried_cost(transcript: &str) -> f64 {
    transcript
        .lines()
        .rev()
        .filter(|line| line.contains("\"cost-state\""))
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|entry| entry.get("type").and_then(Value::as_str) == Some("cost-state"))
        .and_then(|entry| entry.get("totalCostUSD").and_then(Value::as_f64))
        .filter(|cost| cost.is_finite() && *cost > 0.0)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_cost_state_is_carried_over() {
        let transcript = concat!(
            r#"{"type":"user","message":{"content":"cost-state"}}"#,
            "\n",
            r#"{"type":"cost-state","sessionId":"s","totalCostUSD":0.25}"#,
            "\n",
            r#"{"type":"assistant","message":{"content":[]}}"#,
            "\n",
            r#"{"type":"cost-state","sessionId":"s","totalCostUSD":0.5}"#,
            "\n",
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"\"cost-state\""}]}}"#,
            "\n",
        );
        assert!((carried_cost(transcript) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn without_a_cost_state_nothing_is_carried() {
        assert!(carried_cost("").abs() < f64::EPSILON);
        assert!(carried_cost(r#"{"type":"user"}"#).abs() < f64::EPSILON);
        assert!(carried_cost(r#"{"type":"cost-state","totalCostUSD":"x"}"#).abs() < f64::EPSILON);
    }

    #[test]
    fn short_paths_replace_every_non_alphanumeric() {
        assert_eq!(
            munge("/srv/data/agent-workdirs/active/0a1b"),
            "-srv-data-agent-workdirs-active-0a1b"
        );
        assert_eq!(munge("/tmp/ü x"), "-tmp---x");
    }

    #[test]
    fn long_paths_keep_200_characters_and_a_hash() {
        let long = format!("/{}", "a".repeat(250));
        let munged = munge(&long);
        let (head, hash) = munged.rsplit_once('-').unwrap();
        assert_eq!(head.len(), MAX_MUNGED);
        assert_eq!(hash, base36(i64::from(java_hash(&long)).unsigned_abs()));
        // Java: "hello".hashCode() == 99162322
        assert_eq!(java_hash("hello"), 99_162_322);
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }
}
