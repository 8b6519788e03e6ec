//! Accounts and tokens: register (the first user becomes admin; registration can be closed),
//! log in (failures audited), refresh, authenticate, and short-lived stream tokens.

use overseer_domain::AuditAction;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use overseer_domain::{Email, Role, SessionId, User, UserId, ValidationError};
use overseer_ports::auth::{PasswordHasher, TokenClaims, TokenIssuer, TokenKind};
use overseer_ports::{Page, PageRequest};
use serde_json::json;
use time::OffsetDateTime;

use crate::audit::{AuditRecord, AuditService};
use crate::context::{Deps, RequestContext};
use crate::error::ServiceError;

const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 256;

/// Token lifetimes and registration.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// How long an access token is accepted.
    pub access_ttl: Duration,
    /// How long a refresh token is accepted.
    pub refresh_ttl: Duration,
    /// How long a stream token (for `?token=` on a live stream) is accepted.
    pub stream_ttl: Duration,
    /// When false, accounts are created only with `overseer user create`.
    pub registration_open: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            stream_ttl: Duration::from_secs(60),
            registration_open: true,
        }
    }
}

/// An access token and the refresh token that renews it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPair {
    /// A bearer token for the API.
    pub access_token: String,
    /// Exchanged for a new pair once the access token expires.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in_seconds: u64,
}

/// The authenticated caller of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub role: Role,
}

/// How long a checked caller is trusted without reading their row again. Every request names
/// its user; on SQLite that read is two thread hand-offs (docs/benchmarks.md, (f)). A
/// deactivated account is refused within this time.
const CALLER_TTL: time::Duration = time::Duration::seconds(2);
/// Beyond this many cached callers the cache starts over (a bound, not an eviction policy).
const CALLER_CACHE_LIMIT: usize = 10_000;

/// Accounts, logins and tokens.
pub struct AuthService {
    deps: Deps,
    audit: AuditService,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenIssuer>,
    config: AuthConfig,
    callers: std::sync::Mutex<HashMap<UserId, (Caller, OffsetDateTime)>>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn check_password(password: &str) -> Result<(), ValidationError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(ValidationError::new(
            "password",
            format!("must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

impl AuthService {
    /// The service over `deps`, hashing passwords with `hasher` and signing tokens with `issuer`.
    #[must_use]
    pub fn new(
        deps: Deps,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenIssuer>,
        config: AuthConfig,
    ) -> Self {
        Self {
            audit: AuditService::new(deps.clone()),
            deps,
            hasher,
            tokens,
            config,
            callers: std::sync::Mutex::new(HashMap::new()),
        }
    }

    async fn hash(&self, password: &str) -> Result<overseer_domain::PasswordHash, ServiceError> {
        let (hasher, password) = (self.hasher.clone(), password.to_owned());
        // Argon2 is deliberately slow: keep it off the async threads.
        tokio::task::spawn_blocking(move || hasher.hash(&password))
            .await
            .map_err(|_| ServiceError::Credentials)?
            .map_err(|_| ServiceError::Credentials)
    }

    /// Creates an account. The first account is an admin.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] when registration is closed; validation; `Conflict` if the
    /// e-mail is taken.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        origin: Option<&RequestContext>,
    ) -> Result<User, ServiceError> {
        if !self.config.registration_open {
            return Err(ServiceError::Forbidden("registration is closed"));
        }
        let first = self.deps.repos.users.count().await? == 0;
        let role = if first { Role::Admin } else { Role::User };
        self.create_user(email, password, role, origin).await
    }

    /// Creates an account with `role` (also for `overseer user create`).
    ///
    /// # Errors
    /// Validation; `Conflict` if the e-mail is taken.
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        role: Role,
        origin: Option<&RequestContext>,
    ) -> Result<User, ServiceError> {
        let email = Email::normalize(email)?;
        check_password(password)?;
        let hash = self.hash(password).await?;
        let user = User::new(
            UserId::from_uuid(self.deps.ids.new_id()),
            email,
            hash,
            role,
            self.deps.clock.now(),
        );
        self.deps.repos.users.insert(&user).await?;
        self.audit
            .record(
                AuditRecord {
                    actor: Some(user.id),
                    action: AuditAction::AuthRegistered,
                    resource_type: "user",
                    resource_id: Some(user.id.to_string()),
                    details: json!({"role": user.role}),
                },
                origin,
            )
            .await?;
        Ok(user)
    }

    fn pair(&self, user: &User) -> Result<TokenPair, ServiceError> {
        let now = self.deps.clock.now();
        let issue = |kind, ttl: Duration| {
            self.tokens
                .issue(&TokenClaims {
                    user_id: user.id,
                    role: user.role,
                    kind,
                    expires_at: now + ttl,
                })
                .map_err(|_| ServiceError::Credentials)
        };
        Ok(TokenPair {
            access_token: issue(TokenKind::Access, self.config.access_ttl)?,
            refresh_token: issue(TokenKind::Refresh, self.config.refresh_ttl)?,
            expires_in_seconds: self.config.access_ttl.as_secs(),
        })
    }

    /// # Errors
    /// [`ServiceError::Unauthorized`] for an unknown e-mail, a wrong password or a disabled
    /// account (indistinguishable; each failure is audited).
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        origin: &RequestContext,
    ) -> Result<TokenPair, ServiceError> {
        let user = match Email::normalize(email) {
            Ok(email) => self.deps.repos.users.find_by_email(&email).await?,
            Err(_) => None,
        };
        let verified = match &user {
            // A service account has no password: nothing to verify, never a login.
            Some(user) if user.is_active && !user.password_hash.is_no_login() => {
                let (hasher, password, hash) = (
                    self.hasher.clone(),
                    password.to_owned(),
                    user.password_hash.clone(),
                );
                tokio::task::spawn_blocking(move || hasher.verify(&password, &hash))
                    .await
                    .unwrap_or(false)
            }
            _ => false,
        };
        match user {
            Some(user) if verified => self.pair(&user),
            user => {
                let record = AuditRecord {
                    actor: user.map(|u| u.id),
                    action: AuditAction::AuthLoginFailed,
                    resource_type: "user",
                    resource_id: None,
                    details: json!({"email": email.chars().take(254).collect::<String>()}),
                };
                self.audit.record(record, Some(origin)).await?;
                Err(ServiceError::Unauthorized)
            }
        }
    }

    /// New tokens for a valid refresh token of an active user.
    ///
    /// # Errors
    /// [`ServiceError::Unauthorized`].
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, ServiceError> {
        let claims = self
            .tokens
            .verify(refresh_token, TokenKind::Refresh)
            .map_err(|_| ServiceError::Unauthorized)?;
        let user = self.active_user(claims.user_id).await?;
        self.pair(&user)
    }

    async fn active_user(&self, id: UserId) -> Result<User, ServiceError> {
        match self.deps.repos.users.get(id).await {
            Ok(user) if user.is_active => Ok(user),
            Ok(_) | Err(overseer_ports::RepoError::NotFound { .. }) => {
                Err(ServiceError::Unauthorized)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The caller behind an access token (the account must still be active).
    ///
    /// # Errors
    /// [`ServiceError::Unauthorized`].
    pub async fn authenticate(&self, access_token: &str) -> Result<Caller, ServiceError> {
        let claims = self
            .tokens
            .verify(access_token, TokenKind::Access)
            .map_err(|_| ServiceError::Unauthorized)?;
        self.checked_caller(claims.user_id).await
    }

    /// The caller `user`, if their account is active: from a check less than [`CALLER_TTL`]
    /// old, or read now.
    async fn checked_caller(&self, user: UserId) -> Result<Caller, ServiceError> {
        let now = self.deps.clock.now();
        if let Some(caller) = self.recent_caller(user, now) {
            return Ok(caller);
        }
        let user = self.active_user(user).await?;
        let caller = Caller {
            user_id: user.id,
            role: user.role,
        };
        let mut callers = self
            .callers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if callers.len() >= CALLER_CACHE_LIMIT {
            callers.clear();
        }
        callers.insert(caller.user_id, (caller, now));
        Ok(caller)
    }

    /// `user` as checked less than [`CALLER_TTL`] before `now`.
    fn recent_caller(&self, user: UserId, now: OffsetDateTime) -> Option<Caller> {
        let callers = self
            .callers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        callers
            .get(&user)
            .filter(|(_, checked)| now - *checked < CALLER_TTL)
            .map(|(caller, _)| *caller)
    }

    /// A short-lived token that opens `session`'s live stream (for browsers, which cannot set
    /// headers on a WebSocket). The caller must own the session.
    ///
    /// # Errors
    /// `NotFound` for someone else's session.
    pub async fn stream_token(
        &self,
        ctx: &RequestContext,
        session: SessionId,
    ) -> Result<String, ServiceError> {
        self.deps.repos.sessions.get(session, ctx.scope()).await?;
        let claims = TokenClaims {
            user_id: ctx.user_id,
            role: if ctx.is_admin {
                Role::Admin
            } else {
                Role::User
            },
            kind: TokenKind::Stream(session),
            expires_at: self.deps.clock.now() + self.config.stream_ttl,
        };
        self.tokens
            .issue(&claims)
            .map_err(|_| ServiceError::Credentials)
    }

    /// The caller behind a stream token for `session`.
    ///
    /// # Errors
    /// [`ServiceError::Unauthorized`].
    pub async fn authenticate_stream(
        &self,
        token: &str,
        session: SessionId,
    ) -> Result<Caller, ServiceError> {
        let claims = self
            .tokens
            .verify(token, TokenKind::Stream(session))
            .map_err(|_| ServiceError::Unauthorized)?;
        self.checked_caller(claims.user_id).await
    }

    /// # Errors
    /// `NotFound`.
    pub async fn me(&self, ctx: &RequestContext) -> Result<User, ServiceError> {
        Ok(self.deps.repos.users.get(ctx.user_id).await?)
    }

    /// Every account, newest first (admins only).
    ///
    /// # Errors
    /// `Forbidden` for non-admins.
    pub async fn users(
        &self,
        ctx: &RequestContext,
        page: PageRequest,
    ) -> Result<Page<User>, ServiceError> {
        if !ctx.is_admin {
            return Err(ServiceError::Forbidden("only admins list users"));
        }
        Ok(self.deps.repos.users.list(page).await?)
    }
}

#[cfg(test)]
mod tests {
    use overseer_ports::RandomIds;
    use overseer_ports::auth::{MockPasswordHasher, MockTokenIssuer};
    use overseer_testkit::MemoryStore;

    use super::*;

    fn service(registration_open: bool) -> AuthService {
        let deps = Deps::system(MemoryStore::new().repositories());
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().returning(|_| {
            Ok(
                overseer_domain::PasswordHash::from_phc("$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA")
                    .unwrap(),
            )
        });
        let config = AuthConfig {
            registration_open,
            ..AuthConfig::default()
        };
        AuthService::new(
            deps,
            Arc::new(hasher),
            Arc::new(MockTokenIssuer::new()),
            config,
        )
    }

    #[tokio::test]
    async fn nobody_logs_in_to_a_service_account_whatever_the_hasher_says() {
        let deps = Deps::system(MemoryStore::new().repositories());
        let account = crate::service_accounts::ServiceAccounts::new(deps.clone())
            .ensure("robot")
            .await
            .unwrap();
        // A hasher that would accept anything: the account must still be refused.
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|_, _| true);
        let auth = AuthService::new(
            deps,
            Arc::new(hasher),
            Arc::new(MockTokenIssuer::new()),
            AuthConfig::default(),
        );
        let result = auth
            .login(
                account.email.as_str(),
                "anything",
                &RequestContext::internal(account.id),
            )
            .await;
        assert!(
            matches!(result, Err(ServiceError::Unauthorized)),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn the_first_account_is_an_admin_and_the_next_are_users() {
        let auth = service(true);
        assert_eq!(
            auth.register("first@example.com", "long enough", None)
                .await
                .unwrap()
                .role,
            Role::Admin
        );
        assert_eq!(
            auth.register("second@example.com", "long enough", None)
                .await
                .unwrap()
                .role,
            Role::User
        );
        let err = auth
            .register("first@example.com", "long enough", None)
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::Conflict(_)), "{err}");
        assert!(matches!(
            auth.register("third@example.com", "short", None).await,
            Err(ServiceError::Validation(_))
        ));
    }

    /// A caller checked a moment ago is trusted for up to two seconds; after that, a
    /// deactivated account is refused.
    #[tokio::test]
    async fn a_deactivated_account_is_refused_once_its_check_is_stale() {
        let repos = MemoryStore::new().repositories();
        let mut user = overseer_testkit::fixtures::user("cached@example.com");
        repos.users.insert(&user).await.unwrap();
        let clock = Arc::new(overseer_testkit::fixtures::ManualClock::default());
        let mut tokens = MockTokenIssuer::new();
        let id = user.id;
        tokens.expect_verify().returning(move |_, kind| {
            Ok(TokenClaims {
                user_id: id,
                role: Role::User,
                kind,
                expires_at: OffsetDateTime::now_utc() + Duration::from_secs(60),
            })
        });
        let auth = AuthService::new(
            Deps {
                repos: repos.clone(),
                clock: clock.clone(),
                ids: Arc::new(RandomIds),
            },
            Arc::new(MockPasswordHasher::new()),
            Arc::new(tokens),
            AuthConfig::default(),
        );
        assert_eq!(auth.authenticate("t").await.unwrap().user_id, id);
        user.is_active = false;
        repos.users.update(&user).await.unwrap();
        clock.advance(time::Duration::seconds(1));
        assert!(
            auth.authenticate("t").await.is_ok(),
            "still within the check"
        );
        clock.advance(time::Duration::seconds(2));
        assert!(matches!(
            auth.authenticate("t").await,
            Err(ServiceError::Unauthorized)
        ));
    }

    #[tokio::test]
    async fn closed_registration_refuses_but_the_command_line_still_creates() {
        let auth = service(false);
        assert!(matches!(
            auth.register("a@example.com", "long enough", None).await,
            Err(ServiceError::Forbidden(_))
        ));
        let user = auth
            .create_user("a@example.com", "long enough", Role::Admin, None)
            .await
            .unwrap();
        assert_eq!(user.role, Role::Admin);
    }
}
