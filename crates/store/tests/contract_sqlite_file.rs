//! The repository contract suite against a pooled SQLite file in WAL mode (the embedded
//! default), where concurrent writers use separate connections.

use overseer_ports::Repositories;
use overseer_store::Store;
use overseer_store::testing::{self, SqliteFileGuard};

async fn sqlite_file_store() -> Option<(Repositories, (Store, SqliteFileGuard))> {
    let (store, guard) = testing::sqlite_file().await;
    Some((store.repositories(), (store, guard)))
}

overseer_testkit::repository_contract_suite!(sqlite_file_store);
