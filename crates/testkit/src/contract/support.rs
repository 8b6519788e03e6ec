//! Setup steps shared by the contract cases.

use overseer_domain::{Session, UserId};
use overseer_ports::Repositories;

use crate::fixtures::{self, at};

/// Stores a user with `email` and returns its id.
pub(super) async fn owner(repos: &Repositories, email: &str) -> UserId {
    let user = fixtures::user(email);
    repos.users.insert(&user).await.unwrap();
    user.id
}

/// Stores `me@example.com` and a session of theirs.
pub(super) async fn owned_session(repos: &Repositories) -> Session {
    let session = fixtures::session(owner(repos, "me@example.com").await, at(0));
    repos.sessions.insert(&session).await.unwrap();
    session
}
