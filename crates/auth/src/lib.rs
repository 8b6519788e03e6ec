//! Credential adapters: argon2id password hashes and HS256 JSON Web Tokens.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use overseer_domain::{PasswordHash, Role, UserId};
use overseer_ports::agent::Secret;
use overseer_ports::auth::{CredentialError, PasswordHasher, TokenClaims, TokenIssuer, TokenKind};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// argon2id with the crate's default (OWASP-recommended) parameters.
#[derive(Clone, Debug, Default)]
pub struct Argon2Hasher;

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, password: &str) -> Result<PasswordHash, CredentialError> {
        let phc = Argon2::default()
            .hash_password(password.as_bytes())
            .map_err(|_| CredentialError::Hashing)?
            .to_string();
        PasswordHash::from_phc(phc).map_err(|_| CredentialError::Hashing)
    }

    fn verify(&self, password: &str, hash: &PasswordHash) -> bool {
        argon2::password_hash::phc::PasswordHash::new(hash.as_phc()).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    }
}

const ISSUER: &str = "overseer";

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    role: String,
    /// `access`, `refresh`, or `stream:<session id>`.
    kind: String,
    exp: i64,
    iat: i64,
}

fn kind_text(kind: TokenKind) -> String {
    match kind {
        TokenKind::Access => "access".to_owned(),
        TokenKind::Refresh => "refresh".to_owned(),
        TokenKind::Stream(session) => format!("stream:{session}"),
        TokenKind::ApprovalLink { approval, allow } => {
            format!(
                "approval:{approval}:{}",
                if allow { "allow" } else { "deny" }
            )
        }
    }
}

/// HS256 tokens signed with a secret from the configuration (or the data directory).
pub struct JwtIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtIssuer(<secret redacted>)")
    }
}

impl JwtIssuer {
    #[must_use]
    pub fn new(secret: &Secret) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
        }
    }
}

impl TokenIssuer for JwtIssuer {
    fn issue(&self, claims: &TokenClaims) -> Result<String, CredentialError> {
        let body = Claims {
            iss: ISSUER.to_owned(),
            sub: claims.user_id.to_string(),
            role: claims.role.as_str().to_owned(),
            kind: kind_text(claims.kind),
            exp: claims.expires_at.unix_timestamp(),
            iat: OffsetDateTime::now_utc().unix_timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &body, &self.encoding)
            .map_err(|_| CredentialError::Signing)
    }

    fn verify(&self, token: &str, kind: TokenKind) -> Result<TokenClaims, CredentialError> {
        // Only HS256: a token claiming `none` or another algorithm is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| CredentialError::InvalidToken)?;
        let claims = data.claims;
        if claims.kind != kind_text(kind) {
            return Err(CredentialError::InvalidToken);
        }
        let user_id: UserId = claims
            .sub
            .parse()
            .map_err(|_| CredentialError::InvalidToken)?;
        let role: Role = claims
            .role
            .parse()
            .map_err(|_| CredentialError::InvalidToken)?;
        let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp)
            .map_err(|_| CredentialError::InvalidToken)?;
        Ok(TokenClaims {
            user_id,
            role,
            kind,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use overseer_domain::{ApprovalId, SessionId};
    use time::Duration;

    use super::*;

    fn issuer() -> JwtIssuer {
        JwtIssuer::new(&Secret::new(
            "a-test-secret-of-reasonable-length-0123456789",
        ))
    }

    fn claims(kind: TokenKind, ttl: Duration) -> TokenClaims {
        TokenClaims {
            user_id: UserId::from_uuid(uuid::Uuid::now_v7()),
            role: Role::User,
            kind,
            expires_at: OffsetDateTime::now_utc() + ttl,
        }
    }

    #[test]
    fn passwords_hash_and_verify() {
        let hash = Argon2Hasher.hash("correct horse battery staple").unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$"));
        assert!(Argon2Hasher.verify("correct horse battery staple", &hash));
        assert!(!Argon2Hasher.verify("wrong", &hash));
    }

    #[test]
    fn tokens_round_trip_for_their_kind_only() {
        let issuer = issuer();
        let access = claims(TokenKind::Access, Duration::minutes(15));
        let token = issuer.issue(&access).unwrap();
        let back = issuer.verify(&token, TokenKind::Access).unwrap();
        assert_eq!(back.user_id, access.user_id);
        assert!(
            issuer.verify(&token, TokenKind::Refresh).is_err(),
            "an access token is not a refresh token"
        );
        let session = SessionId::from_uuid(uuid::Uuid::now_v7());
        let stream = issuer
            .issue(&claims(TokenKind::Stream(session), Duration::minutes(1)))
            .unwrap();
        assert!(issuer.verify(&stream, TokenKind::Stream(session)).is_ok());
        let other = SessionId::from_uuid(uuid::Uuid::now_v7());
        assert!(issuer.verify(&stream, TokenKind::Stream(other)).is_err());
    }

    #[test]
    fn an_approval_link_answers_its_approval_one_way_only() {
        let issuer = issuer();
        let approval = ApprovalId::from_uuid(uuid::Uuid::now_v7());
        let allow = TokenKind::ApprovalLink {
            approval,
            allow: true,
        };
        let token = issuer.issue(&claims(allow, Duration::minutes(5))).unwrap();
        assert!(issuer.verify(&token, allow).is_ok());
        let deny = TokenKind::ApprovalLink {
            approval,
            allow: false,
        };
        assert!(
            issuer.verify(&token, deny).is_err(),
            "not the other decision"
        );
        let other = TokenKind::ApprovalLink {
            approval: ApprovalId::from_uuid(uuid::Uuid::now_v7()),
            allow: true,
        };
        assert!(
            issuer.verify(&token, other).is_err(),
            "not another approval"
        );
        assert!(
            issuer.verify(&token, TokenKind::Access).is_err(),
            "not an access token"
        );
        let expired = issuer.issue(&claims(allow, Duration::seconds(-5))).unwrap();
        assert!(
            issuer.verify(&expired, allow).is_err(),
            "not once the approval has expired"
        );
    }

    #[test]
    fn expired_forged_and_unsigned_tokens_are_refused() {
        let issuer = issuer();
        let expired = issuer
            .issue(&claims(TokenKind::Access, Duration::seconds(-5)))
            .unwrap();
        assert!(issuer.verify(&expired, TokenKind::Access).is_err());
        let forged = JwtIssuer::new(&Secret::new("another-secret"))
            .issue(&claims(TokenKind::Access, Duration::minutes(5)))
            .unwrap();
        assert!(issuer.verify(&forged, TokenKind::Access).is_err());
        // alg "none": header {"alg":"none","typ":"JWT"}, the same claims, no signature.
        let good = issuer
            .issue(&claims(TokenKind::Access, Duration::minutes(5)))
            .unwrap();
        let payload = good.split('.').nth(1).unwrap();
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert!(issuer.verify(&unsigned, TokenKind::Access).is_err());
        assert!(issuer.verify("not a token", TokenKind::Access).is_err());
    }
}
