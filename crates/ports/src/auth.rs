//! Credentials: password hashes and signed tokens. Plain sync traits: both are CPU work with no
//! I/O (callers move hashing off the async threads).

use overseer_domain::{ApprovalId, PasswordHash, Role, SessionId, UserId};
use time::OffsetDateTime;

/// Why a credential operation failed. Deliberately vague: the reason never reaches a client.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The token is malformed, forged, of the wrong kind or expired.
    #[error("the token is invalid or expired")]
    InvalidToken,
    /// A password could not be hashed.
    #[error("cannot hash the password")]
    Hashing,
    /// A token could not be signed.
    #[error("cannot sign the token")]
    Signing,
}

/// Hashes and checks passwords (argon2 in production).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait PasswordHasher: Send + Sync {
    /// # Errors
    /// [`CredentialError::Hashing`].
    fn hash(&self, password: &str) -> Result<PasswordHash, CredentialError>;

    /// Whether `password` matches `hash` (constant time).
    fn verify(&self, password: &str, hash: &PasswordHash) -> bool;
}

/// What a token is good for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// API calls, short-lived.
    Access,
    /// Getting a new access token.
    Refresh,
    /// Opening one session's live stream from a browser (no header), very short-lived.
    Stream(SessionId),
    /// Answering one approval, one way, without signing in (a notification's one-tap link);
    /// it expires with the approval.
    ApprovalLink {
        /// The approval it answers.
        approval: ApprovalId,
        /// `true`: allow; `false`: deny.
        allow: bool,
    },
}

/// The signed content of a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    /// Whose token it is.
    pub user_id: UserId,
    /// Their role when it was issued.
    pub role: Role,
    /// Access, refresh or stream token.
    pub kind: TokenKind,
    /// When it stops being accepted.
    pub expires_at: OffsetDateTime,
}

/// Issues and verifies signed tokens (JWT in production).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// # Errors
    /// [`CredentialError::Signing`].
    fn issue(&self, claims: &TokenClaims) -> Result<String, CredentialError>;

    /// Checks signature, algorithm, expiry and kind.
    ///
    /// # Errors
    /// [`CredentialError::InvalidToken`] for anything wrong, without saying what.
    fn verify(&self, token: &str, kind: TokenKind) -> Result<TokenClaims, CredentialError>;
}
