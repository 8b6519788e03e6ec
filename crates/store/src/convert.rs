//! Shared mapping between rows and domain values, and from database errors to [`RepoError`].

use std::fmt::Display;
use std::str::FromStr;

use overseer_ports::{Page, PageRequest, RepoError};
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, PaginatorTrait, QuerySelect, Select,
    SqlErr,
};

/// Maps a failed write: a unique violation is `AlreadyExists` for `entity`, a foreign-key
/// violation is `NotFound` for `parent` (the row the new one points at).
pub(crate) fn write_err(
    entity: &'static str,
    parent: &'static str,
) -> impl FnOnce(DbErr) -> RepoError {
    move |err| match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(key)) => RepoError::AlreadyExists { entity, key },
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => RepoError::NotFound { entity: parent },
        _ => unavailable(err),
    }
}

/// Maps a failed read.
pub(crate) fn unavailable(err: DbErr) -> RepoError {
    RepoError::Unavailable(Box::new(err))
}

pub(crate) fn corrupt(entity: &'static str) -> impl Fn(&dyn Display) -> RepoError {
    move |reason| RepoError::Corrupt {
        entity,
        reason: reason.to_string(),
    }
}

/// Parses a stored enum or validated string.
pub(crate) fn parse<T>(entity: &'static str, value: &str) -> Result<T, RepoError>
where
    T: FromStr,
    T::Err: Display,
{
    value.parse().map_err(|e: T::Err| corrupt(entity)(&e))
}

/// A counter as stored (databases have signed integers only).
pub(crate) fn to_db(entity: &'static str, value: u64) -> Result<i64, RepoError> {
    i64::try_from(value).map_err(|e| corrupt(entity)(&e))
}

/// A counter as read back.
pub(crate) fn from_db(entity: &'static str, value: i64) -> Result<u64, RepoError> {
    u64::try_from(value).map_err(|e| corrupt(entity)(&e))
}

/// One page of `select` (already filtered and ordered) and the total number of matches.
/// Every row `select` finds, mapped to domain values.
pub(crate) async fn fetch_all<E, T>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    to_domain: impl Fn(E::Model) -> Result<T, RepoError>,
) -> Result<Vec<T>, RepoError>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
{
    let rows = select.all(db).await.map_err(unavailable)?;
    rows.into_iter().map(to_domain).collect()
}

pub(crate) async fn fetch_page<E, T>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    page: PageRequest,
    to_domain: impl Fn(E::Model) -> Result<T, RepoError>,
) -> Result<Page<T>, RepoError>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
{
    let total = select.clone().count(db).await.map_err(unavailable)?;
    let rows = select
        .limit(u64::from(page.limit()))
        .offset(page.offset())
        .all(db)
        .await
        .map_err(unavailable)?;
    let items = rows.into_iter().map(to_domain).collect::<Result<_, _>>()?;
    Ok(Page { items, total })
}
