//! Where the client keeps its tokens: `<config dir>/overseer/credentials.json` (on Linux
//! `$XDG_CONFIG_HOME`, else `~/.config`), readable by the user only, one entry per server.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ClientError;

/// The tokens of one server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tokens {
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    servers: BTreeMap<String, Tokens>,
}

/// The credentials file.
#[derive(Debug)]
pub struct Credentials {
    path: PathBuf,
}

impl Credentials {
    /// The file in the user's config dir.
    ///
    /// # Errors
    /// [`ClientError::NoConfigDir`] where the platform has none.
    pub fn in_config_dir() -> Result<Self, ClientError> {
        let dir = dirs::config_dir().ok_or(ClientError::NoConfigDir)?;
        Ok(Self {
            path: dir.join("overseer").join("credentials.json"),
        })
    }

    fn read(&self) -> Result<File, ClientError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ClientError::Credentials {
                path: self.path.clone(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
            Err(e) => Err(self.io(&e)),
        }
    }

    fn io(&self, error: &std::io::Error) -> ClientError {
        ClientError::Credentials {
            path: self.path.clone(),
            reason: error.to_string(),
        }
    }

    /// The tokens kept for `server`, if any.
    ///
    /// # Errors
    /// An unreadable file.
    pub fn get(&self, server: &str) -> Result<Option<Tokens>, ClientError> {
        Ok(self.read()?.servers.remove(server))
    }

    /// Keeps `tokens` for `server` (or forgets it with `None`); the file is written whole
    /// to a temporary file made readable by the user only, then renamed over the old one.
    ///
    /// # Errors
    /// An unreadable or unwritable file.
    pub fn set(&self, server: &str, tokens: Option<Tokens>) -> Result<(), ClientError> {
        let mut file = self.read()?;
        match tokens {
            Some(tokens) => file.servers.insert(server.to_owned(), tokens),
            None => file.servers.remove(server),
        };
        let dir = self.path.parent().unwrap_or(&self.path);
        std::fs::create_dir_all(dir).map_err(|e| self.io(&e))?;
        let temporary = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| ClientError::Credentials {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        write_private(&temporary, &bytes).map_err(|e| self.io(&e))?;
        std::fs::rename(&temporary, &self.path).map_err(|e| self.io(&e))
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_per_server_in_a_file_only_the_user_reads() {
        let dir = std::env::temp_dir().join(format!("overseer-creds-{}", uuid::Uuid::now_v7()));
        let credentials = Credentials {
            path: dir.join("overseer/credentials.json"),
        };
        assert!(credentials.get("http://a").unwrap().is_none());
        let tokens = Tokens {
            email: "a@example.com".into(),
            access_token: "access".into(),
            refresh_token: "refresh".into(),
        };
        credentials.set("http://a", Some(tokens.clone())).unwrap();
        credentials.set("http://b", Some(tokens)).unwrap();
        assert_eq!(
            credentials.get("http://a").unwrap().unwrap().email,
            "a@example.com"
        );
        credentials.set("http://a", None).unwrap();
        assert!(credentials.get("http://a").unwrap().is_none());
        assert!(credentials.get("http://b").unwrap().is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&credentials.path)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
