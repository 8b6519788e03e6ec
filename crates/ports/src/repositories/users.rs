use async_trait::async_trait;
use overseer_domain::{Email, User, UserId};

use crate::{Page, PageRequest, RepoError};

/// Accounts, unique by e-mail.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user.
    ///
    /// # Errors
    /// `AlreadyExists` if the id or the e-mail is taken.
    async fn insert(&self, user: &User) -> Result<(), RepoError>;

    /// # Errors
    /// `NotFound` if there is no such user.
    async fn get(&self, id: UserId) -> Result<User, RepoError>;

    /// The user with this e-mail, if any.
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError>;

    /// Writes e-mail, password hash, role, `is_active` and `updated_at`.
    ///
    /// # Errors
    /// `NotFound`; `AlreadyExists` if the new e-mail is taken.
    async fn update(&self, user: &User) -> Result<(), RepoError>;

    /// How many users exist (the first one to register becomes admin).
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn count(&self) -> Result<u64, RepoError>;

    /// All users, newest first (admin use).
    ///
    /// # Errors
    /// `Unavailable` on backend failure.
    async fn list(&self, page: PageRequest) -> Result<Page<User>, RepoError>;
}
