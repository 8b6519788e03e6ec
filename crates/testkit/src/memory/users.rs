use async_trait::async_trait;
use overseer_domain::{Email, User, UserId};
use overseer_ports::repositories::UserRepository;
use overseer_ports::{Page, PageRequest, RepoError};

use super::{MemoryStore, newest_first_page};

const ENTITY: &str = "user";

#[async_trait]
impl UserRepository for MemoryStore {
    async fn insert(&self, user: &User) -> Result<(), RepoError> {
        let mut state = self.lock();
        if state.users.contains_key(&user.id) || state.users.values().any(|u| u.email == user.email)
        {
            return Err(RepoError::AlreadyExists {
                entity: ENTITY,
                key: "id or email".to_owned(),
            });
        }
        state.users.insert(user.id, user.clone());
        Ok(())
    }

    async fn get(&self, id: UserId) -> Result<User, RepoError> {
        self.lock()
            .users
            .get(&id)
            .cloned()
            .ok_or(RepoError::NotFound { entity: ENTITY })
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        Ok(self
            .lock()
            .users
            .values()
            .find(|u| &u.email == email)
            .cloned())
    }

    async fn update(&self, user: &User) -> Result<(), RepoError> {
        let mut state = self.lock();
        if state
            .users
            .values()
            .any(|u| u.email == user.email && u.id != user.id)
        {
            return Err(RepoError::AlreadyExists {
                entity: ENTITY,
                key: "email".to_owned(),
            });
        }
        let stored = state
            .users
            .get_mut(&user.id)
            .ok_or(RepoError::NotFound { entity: ENTITY })?;
        stored.email = user.email.clone();
        stored.password_hash = user.password_hash.clone();
        stored.role = user.role;
        stored.is_active = user.is_active;
        stored.updated_at = user.updated_at;
        Ok(())
    }

    async fn count(&self) -> Result<u64, RepoError> {
        Ok(self.lock().users.len() as u64)
    }

    async fn list(&self, page: PageRequest) -> Result<Page<User>, RepoError> {
        let state = self.lock();
        Ok(newest_first_page(
            state.users.values().cloned(),
            |u| (u.created_at, u.id.as_uuid()),
            page,
        ))
    }
}
