//! The repository contract suite against Postgres: a fresh database per test, created from
//! `TEST_DATABASE_URL` and dropped afterwards.

use overseer_ports::Repositories;
use overseer_store::Store;
use overseer_store::testing::{self, PostgresGuard};

async fn postgres_store() -> Option<(Repositories, (Store, PostgresGuard))> {
    let (store, guard) = testing::postgres().await?;
    Some((store.repositories(), (store, guard)))
}

overseer_testkit::repository_contract_suite!(postgres_store);
