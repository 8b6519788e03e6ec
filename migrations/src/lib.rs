//! Schema migrations: one tree, run unchanged on PostgreSQL and SQLite.
//!
//! Column types are the portable subset: UUIDs, text, big integers, doubles, booleans, JSON and
//! timestamps with time zone. Enumerations are stored as text and validated by the domain.

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;

mod columns;
mod m20261124_000001_initial;
mod m20261124_000002_approvals;
mod m20261124_000003_execution_queue;
mod m20261124_000004_quotas;
mod m20261124_000005_webhooks;
mod m20261124_000006_schedules;
mod m20261124_000007_session_hosts;
mod m20261204_000008_message_blocks;
mod m20261205_000009_notifications;
mod m20261206_000010_budgets;

/// Applies every migration in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_initial::Migration),
            Box::new(m20261124_000002_approvals::Migration),
            Box::new(m20261124_000003_execution_queue::Migration),
            Box::new(m20261124_000004_quotas::Migration),
            Box::new(m20261124_000005_webhooks::Migration),
            Box::new(m20261124_000006_schedules::Migration),
            Box::new(m20261124_000007_session_hosts::Migration),
            Box::new(m20261204_000008_message_blocks::Migration),
            Box::new(m20261205_000009_notifications::Migration),
            Box::new(m20261206_000010_budgets::Migration),
        ]
    }
}
