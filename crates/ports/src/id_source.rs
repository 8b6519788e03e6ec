use uuid::Uuid;

/// New unique ids. A plain trait so tests can make them predictable.
///
/// Contract: never returns the same id twice.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdSource: Send + Sync {
    /// A new, unique id (UUIDv7: ordered by creation time).
    fn new_id(&self) -> Uuid;
}

/// UUIDv7: unique, and ordered by creation time, which keeps index inserts local.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
