//! The repository ports on sea-orm, for PostgreSQL (production) and SQLite (embedded default).
//!
//! The backend is chosen at runtime from the URL (`postgres://…` or `sqlite:…`); both run the
//! same migrations and pass the same contract suite.

#[cfg(feature = "postgres")]
mod cluster;
mod connect;
mod convert;
mod entities;
mod repos;
mod task_snapshot;

#[cfg(feature = "postgres")]
pub use cluster::PgClusterBus;
pub use connect::{Store, StoreError};

#[cfg(feature = "test-support")]
pub mod testing;
