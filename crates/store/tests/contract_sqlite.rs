//! The repository contract suite against SQLite: a fresh in-memory database (one connection)
//! per test.

use overseer_ports::Repositories;
use overseer_store::{Store, testing};

async fn sqlite_store() -> Option<(Repositories, Store)> {
    let store = testing::sqlite_memory().await;
    Some((store.repositories(), store))
}

overseer_testkit::repository_contract_suite!(sqlite_store);
