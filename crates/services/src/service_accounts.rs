//! Service accounts: owners without a password, for embedders and the server's own
//! automation. Created idempotently by name; nobody logs in to one.

use overseer_domain::{AuditAction, Email, PasswordHash, Role, User, UserId, ValidationError};
use serde_json::json;

use crate::audit::{AuditRecord, AuditService};
use crate::context::Deps;
use crate::error::ServiceError;

/// The domain of service accounts' addresses (reserved: it never receives mail).
pub const SERVICE_ACCOUNT_DOMAIN: &str = "service-accounts.invalid";

/// Finds or creates service accounts.
#[derive(Clone)]
pub struct ServiceAccounts {
    deps: Deps,
    audit: AuditService,
}

impl std::fmt::Debug for ServiceAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccounts").finish_non_exhaustive()
    }
}

impl ServiceAccounts {
    /// Service accounts over `deps`.
    #[must_use]
    pub fn new(deps: Deps) -> Self {
        Self {
            audit: AuditService::new(deps.clone()),
            deps,
        }
    }

    /// The service account named `name` (a role-`user` owner whose address is
    /// `<name>@service-accounts.invalid` and whose password hash verifies nothing), created on
    /// first use: calling it again with the same name returns the same account. Its creation
    /// is audited (`auth.registered`, `service_account: true`).
    ///
    /// # Errors
    /// [`ServiceError::Validation`] on `name` unless it is 1 to 63 of `a-z`, `0-9`, `-`,
    /// starting with a letter or digit; storage errors.
    pub async fn ensure(&self, name: &str) -> Result<User, ServiceError> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(ValidationError::new(
                "name",
                "1 to 63 of a-z, 0-9 and '-', not starting with '-'",
            )
            .into());
        }
        let email = Email::normalize(&format!("{name}@{SERVICE_ACCOUNT_DOMAIN}"))?;
        if let Some(user) = self.deps.repos.users.find_by_email(&email).await? {
            return Ok(user);
        }
        let user = User::new(
            UserId::from_uuid(self.deps.ids.new_id()),
            email.clone(),
            PasswordHash::no_login(),
            Role::User,
            self.deps.clock.now(),
        );
        match self.deps.repos.users.insert(&user).await {
            Ok(()) => {}
            // Created meanwhile by another caller (or node): theirs is the account.
            Err(overseer_ports::RepoError::AlreadyExists { .. }) => {
                return self
                    .deps
                    .repos
                    .users
                    .find_by_email(&email)
                    .await?
                    .ok_or(ServiceError::NotFound { entity: "user" });
            }
            Err(err) => return Err(err.into()),
        }
        self.audit
            .record(
                AuditRecord {
                    actor: None,
                    action: AuditAction::AuthRegistered,
                    resource_type: "user",
                    resource_id: Some(user.id.to_string()),
                    details: json!({"role": user.role, "service_account": true, "name": name}),
                },
                None,
            )
            .await?;
        Ok(user)
    }
}

#[cfg(test)]
mod tests {

    use overseer_testkit::MemoryStore;

    use super::*;

    fn accounts() -> (ServiceAccounts, overseer_ports::Repositories) {
        let repos = MemoryStore::new().repositories();
        let deps = Deps::system(repos.clone());
        (ServiceAccounts::new(deps), repos)
    }

    #[tokio::test]
    async fn the_same_name_gives_the_same_account_with_no_password() {
        let (accounts, repos) = accounts();
        let first = accounts.ensure("nightly-checks").await.unwrap();
        let again = accounts.ensure("nightly-checks").await.unwrap();
        assert_eq!(first.id, again.id);
        assert!(first.password_hash.is_no_login());
        assert_eq!(first.role, Role::User);
        assert_eq!(repos.users.count().await.unwrap(), 1);
        let other = accounts.ensure("deploys").await.unwrap();
        assert_ne!(other.id, first.id);
    }

    #[tokio::test]
    async fn bad_names_are_refused() {
        let (accounts, _) = accounts();
        for name in ["", "-x", "Upper", "a b", "a@b", &"x".repeat(64)] {
            assert!(
                matches!(
                    accounts.ensure(name).await,
                    Err(ServiceError::Validation(_))
                ),
                "{name:?}"
            );
        }
    }
}
