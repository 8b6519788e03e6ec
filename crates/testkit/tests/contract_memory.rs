//! The repository contract suite against the in-memory adapters.

use overseer_ports::Repositories;
use overseer_testkit::MemoryStore;

async fn memory_store() -> Option<(Repositories, ())> {
    Some((MemoryStore::new().repositories(), ()))
}

overseer_testkit::repository_contract_suite!(memory_store);
