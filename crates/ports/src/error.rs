/// How a repository call failed.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// No such row, or it exists but is outside the caller's scope (the two are deliberately
    /// indistinguishable).
    #[error("{entity} not found")]
    NotFound {
        /// What kind of row.
        entity: &'static str,
    },
    /// A row with the same unique key (e-mail, name, tool use id …) already exists.
    #[error("{entity} already exists ({key})")]
    AlreadyExists {
        /// What kind of row.
        entity: &'static str,
        /// The key that is taken.
        key: String,
    },
    /// A compare-and-set lost: the row is no longer in the state the caller expected
    /// (another writer changed it first).
    #[error("{entity} was changed by another writer (expected {expected})")]
    Conflict {
        /// What kind of row.
        entity: &'static str,
        /// The state the caller expected it in.
        expected: String,
    },
    /// The row exists but cannot be turned into a domain value (corrupt or newer data).
    #[error("stored {entity} is invalid: {reason}")]
    Corrupt {
        /// What kind of row.
        entity: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The backend failed (connection lost, timeout …). Worth retrying later.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}
