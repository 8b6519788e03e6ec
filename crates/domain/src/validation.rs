//! The error every validated constructor returns: which field, and why.

use std::fmt;

/// A value that does not satisfy its type's rules. `field` names the offending input so the
/// HTTP edge can point at it (`sdk_options.env.1BAD`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    pub field: String,
    pub reason: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// Prefixes the field path, so a nested value's error names its full location.
    #[must_use]
    pub fn within(self, parent: &str) -> Self {
        Self {
            field: format!("{parent}.{}", self.field),
            reason: self.reason,
        }
    }
}

/// Checks a free-text value: trimmed length within `1..=max_chars` and no control characters
/// other than newline and tab.
pub(crate) fn check_text(
    field: &str,
    value: &str,
    max_chars: usize,
) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    check_optional_text(field, value, max_chars)
}

/// Like [`check_text`] but an empty value is allowed.
pub(crate) fn check_optional_text(
    field: &str,
    value: &str,
    max_chars: usize,
) -> Result<(), ValidationError> {
    if value.chars().count() > max_chars {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Generates a validated string newtype: `try_from`/`FromStr`-style constructor, `as_str`,
/// `Display`, and serde that validates on the way in.
macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `value`.
            ///
            /// # Errors
            /// A [`crate::ValidationError`] naming the rule that `value` breaks.
            pub fn new(value: impl Into<String>) -> Result<Self, $crate::ValidationError> {
                let value: String = value.into();
                let check: fn(&str) -> Result<(), $crate::ValidationError> = $check;
                check(&value)?;
                Ok(Self(value))
            }

            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::ValidationError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(crate) use validated_string;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert!(check_text("name", "ok", 10).is_ok());
        assert_eq!(check_text("name", "  ", 10).unwrap_err().field, "name");
        assert!(check_text("name", "12345678901", 10).is_err());
        assert!(check_text("name", "a\u{0}b", 10).is_err());
        assert!(check_text("name", "line\nline", 10).is_ok());
        assert!(check_optional_text("d", "", 10).is_ok());
    }

    #[test]
    fn within_prefixes_the_field_path() {
        let e = ValidationError::new("model", "bad").within("sdk_options");
        assert_eq!(e.field, "sdk_options.model");
    }
}
