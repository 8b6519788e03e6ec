//! The Postgres cluster bus between two nodes on one database: notes arrive at the other node,
//! in order, and never back at their sender.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use overseer_domain::SessionId;
use overseer_ports::{ClusterBus, EventNote, StoredEvent};
use overseer_store::PgClusterBus;
use overseer_store::testing;

fn collecting(bus: &PgClusterBus) -> Arc<Mutex<Vec<EventNote>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    bus.listen(Arc::new(move |note| sink.lock().unwrap().push(note)));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_reach_the_other_node_in_order_and_not_their_sender() {
    let Some((store, _guard)) = testing::postgres().await else {
        return;
    };
    let a = PgClusterBus::new(&store, "node-a").unwrap();
    let b = PgClusterBus::new(&store, "node-b").unwrap();
    let seen_by_a = collecting(&a);
    let seen_by_b = collecting(&b);
    // LISTEN is asynchronous: wait until B hears a probe before counting.
    let session = SessionId::from_uuid(uuid::Uuid::now_v7());
    let note = |sequence| {
        EventNote::event(
            session,
            sequence,
            StoredEvent::Messages { through: sequence },
        )
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen_by_b.lock().unwrap().is_empty() {
        a.announce(&note(0)).await.unwrap();
        assert!(tokio::time::Instant::now() < deadline, "B never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen_by_b.lock().unwrap().clear();

    // Single notes, then a batch in one statement, then a single one again.
    for sequence in 1..=50 {
        a.announce(&note(sequence)).await.unwrap();
    }
    let batch: Vec<EventNote> = (51..=150).map(note).collect();
    a.announce_all(&batch).await.unwrap();
    a.announce(&note(151)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen_by_b
        .lock()
        .unwrap()
        .iter()
        .filter(|n| n.sequence > 0)
        .count()
        < 151
    {
        assert!(tokio::time::Instant::now() < deadline, "notes lost");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let order: Vec<u64> = seen_by_b
        .lock()
        .unwrap()
        .iter()
        .map(|n| n.sequence)
        .filter(|s| *s > 0)
        .collect();
    assert_eq!(order, (1..=151).collect::<Vec<_>>());
    assert!(
        seen_by_a.lock().unwrap().is_empty(),
        "a node hears only the others"
    );
    assert!(PgClusterBus::new(&testing::sqlite_memory().await, "x").is_none());
}

/// A node is alive while it has a connection to the database under its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_is_alive_exactly_while_connected() {
    let Some((store, _guard)) = testing::postgres().await else {
        return;
    };
    let node_a = overseer_store::Store::connect_as(store.connection_url(), "node-a")
        .await
        .unwrap();
    node_a.ping().await.unwrap();
    let b = PgClusterBus::new(&store, "node-b").unwrap();
    assert!(b.is_alive("node-a").await.unwrap());
    assert!(!b.is_alive("node-never-started").await.unwrap());
    node_a.close().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while b.is_alive("node-a").await.unwrap() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node-a still looks alive after closing every connection"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
