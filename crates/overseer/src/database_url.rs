//! A database URL, which may hold a password.

use std::fmt;
use std::path::Path;

/// A database URL. It may hold a password, so `Debug` and `Display` mask it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(from = "String", into = "String")]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL as given (it is checked when the database is opened).
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The SQLite database in the file at `path`.
    #[must_use]
    pub fn sqlite_file(path: &Path) -> Self {
        Self(format!("sqlite://{}", path.display()))
    }

    /// The URL itself, for the driver only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    #[must_use]
    pub fn redacted(&self) -> String {
        let Some(scheme_end) = self.0.find("://").map(|i| i + 3) else {
            return self.0.clone();
        };
        let rest = &self.0[scheme_end..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => match rest[..at].find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &self.0[..scheme_end],
                    &rest[..colon],
                    &rest[at..]
                ),
                None => self.0.clone(),
            },
            None => self.0.clone(),
        }
    }
}

impl From<String> for DatabaseUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl From<DatabaseUrl> for String {
    fn from(url: DatabaseUrl) -> Self {
        url.0
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(url))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url =
            DatabaseUrl::new("postgres://app:s3cret@db.internal:5432/overseer?sslmode=require");
        assert_eq!(
            url.redacted(),
            "postgres://app:***@db.internal:5432/overseer?sslmode=require"
        );
        assert!(!format!("{url:?} {url}").contains("s3cret"));
        assert_eq!(
            DatabaseUrl::new("postgres://postgres@h/db").redacted(),
            "postgres://postgres@h/db"
        );
        assert_eq!(
            DatabaseUrl::new("sqlite::memory:").redacted(),
            "sqlite::memory:"
        );
    }
}
