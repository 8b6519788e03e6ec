//! Users and their credentials.

use std::fmt;

use time::OffsetDateTime;

use crate::ids::UserId;
use crate::string_enum::string_enum;
use crate::validation::{ValidationError, validated_string};

validated_string!(
    /// An e-mail address, stored lowercase: one `@`, non-empty parts, no spaces, ≤ 254 chars.
    Email,
    |value| {
        let valid = value.len() <= 254
            && value == value.to_lowercase()
            && !value.chars().any(|c| c.is_whitespace() || c.is_control())
            && value
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
        if valid {
            Ok(())
        } else {
            Err(ValidationError::new("email", "is not a valid lowercase e-mail address"))
        }
    }
);

impl Email {
    /// Lowercases and trims `value`, then validates it.
    ///
    /// # Errors
    /// A [`ValidationError`] on `email`.
    pub fn normalize(value: &str) -> Result<Self, ValidationError> {
        Self::new(value.trim().to_lowercase())
    }
}

/// An argon2 PHC hash string. Its `Debug` never shows the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// The hash of an account nobody logs in to (a service account): it verifies no password.
    pub const NO_LOGIN: &'static str = "$no-login$";

    /// [`PasswordHash::NO_LOGIN`]: an account without a password.
    #[must_use]
    pub fn no_login() -> Self {
        Self(Self::NO_LOGIN.to_owned())
    }

    /// Whether this account has no password (see [`PasswordHash::no_login`]).
    #[must_use]
    pub fn is_no_login(&self) -> bool {
        self.0 == Self::NO_LOGIN
    }

    /// Wraps a PHC string (`$argon2id$...`) produced by a password hasher.
    ///
    /// # Errors
    /// A [`ValidationError`] if `phc` is not a PHC string.
    pub fn from_phc(phc: impl Into<String>) -> Result<Self, ValidationError> {
        let phc: String = phc.into();
        if !phc.starts_with('$') || phc.len() > 512 {
            return Err(ValidationError::new(
                "password_hash",
                "is not a PHC hash string",
            ));
        }
        Ok(Self(phc))
    }

    #[must_use]
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

string_enum!(
    /// What a user may do beyond their own resources.
    Role("role") {
        Admin => "admin",
        User => "user",
    }
);

/// An account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub password_hash: PasswordHash,
    pub role: Role,
    pub is_active: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl User {
    /// A new, active account.
    #[must_use]
    pub fn new(
        id: UserId,
        email: Email,
        password_hash: PasswordHash,
        role: Role,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            email,
            password_hash,
            role,
            is_active: true,
            created_at: now,
            updated_at: now,
        }
    }

    #[must_use]
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rules() {
        assert_eq!(
            Email::normalize("  Ops@Example.COM ").unwrap().as_str(),
            "ops@example.com"
        );
        for bad in ["", "no-at", "@x", "x@", "a b@c", "a@b@c", "Upper@x.y"] {
            assert!(Email::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_hash_debug_is_redacted() {
        let hash = PasswordHash::from_phc("$argon2id$v=19$secret").unwrap();
        assert!(!format!("{hash:?}").contains("secret"));
        assert!(PasswordHash::from_phc("plaintext").is_err());
    }
}
