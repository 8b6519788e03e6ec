use async_trait::async_trait;
use overseer_domain::{Email, PasswordHash, User, UserId};
use overseer_ports::repositories::UserRepository;
use overseer_ports::{Page, PageRequest, RepoError};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder,
};

use crate::convert::{corrupt, fetch_page, parse, unavailable, write_err};
use crate::entities::users::{ActiveModel, Column, Entity, Model};

const ENTITY: &str = "user";

#[derive(Debug)]
pub(crate) struct SqlUsers(pub(crate) DatabaseConnection);

fn to_model(user: &User) -> Model {
    Model {
        id: user.id.as_uuid(),
        email: user.email.to_string(),
        password_hash: user.password_hash.as_phc().to_owned(),
        role: user.role.as_str().to_owned(),
        is_active: user.is_active,
        created_at: user.created_at,
        updated_at: user.updated_at,
    }
}

fn to_domain(row: Model) -> Result<User, RepoError> {
    Ok(User {
        id: UserId::from_uuid(row.id),
        email: Email::new(row.email).map_err(|e| corrupt(ENTITY)(&e))?,
        password_hash: PasswordHash::from_phc(row.password_hash)
            .map_err(|e| corrupt(ENTITY)(&e))?,
        role: parse(ENTITY, &row.role)?,
        is_active: row.is_active,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[async_trait]
impl UserRepository for SqlUsers {
    async fn insert(&self, user: &User) -> Result<(), RepoError> {
        Entity::insert(to_model(user).into_active_model())
            .exec_without_returning(&self.0)
            .await
            .map_err(write_err(ENTITY, ENTITY))?;
        Ok(())
    }

    async fn get(&self, id: UserId) -> Result<User, RepoError> {
        Entity::find_by_id(id.as_uuid())
            .one(&self.0)
            .await
            .map_err(unavailable)?
            .ok_or(RepoError::NotFound { entity: ENTITY })
            .and_then(to_domain)
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        Entity::find()
            .filter(Column::Email.eq(email.as_str()))
            .one(&self.0)
            .await
            .map_err(unavailable)?
            .map(to_domain)
            .transpose()
    }

    async fn update(&self, user: &User) -> Result<(), RepoError> {
        let row = to_model(user);
        let changes = ActiveModel {
            email: Set(row.email),
            password_hash: Set(row.password_hash),
            role: Set(row.role),
            is_active: Set(row.is_active),
            updated_at: Set(row.updated_at),
            ..Default::default()
        };
        let result = Entity::update_many()
            .set(changes)
            .filter(Column::Id.eq(row.id))
            .exec(&self.0)
            .await
            .map_err(write_err(ENTITY, ENTITY))?;
        if result.rows_affected == 0 {
            return Err(RepoError::NotFound { entity: ENTITY });
        }
        Ok(())
    }

    async fn count(&self) -> Result<u64, RepoError> {
        Entity::find().count(&self.0).await.map_err(unavailable)
    }

    async fn list(&self, page: PageRequest) -> Result<Page<User>, RepoError> {
        let select = Entity::find()
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id);
        fetch_page(&self.0, select, page, to_domain).await
    }
}
