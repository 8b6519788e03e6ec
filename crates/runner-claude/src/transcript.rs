//! Where the CLI keeps a conversation's transcript (agent-protocol.md, "Transcript"):
//! `<config dir>/projects/<munged cwd>/<session id>.jsonl`.

use std::path::{Path, PathBuf};

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

#[cfg(test)]
mod tests {
    use super::*;

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
