//! Why an instance could not start.

use std::path::PathBuf;

use overseer_store::StoreError;

/// Why [`crate::OverseerBuilder::start`] failed. Messages never hold a password.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory, or a file in it, cannot be used.
    #[error("cannot use the data directory {path}")]
    DataDir {
        /// The directory or file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The database cannot be opened or migrated.
    #[error("cannot open the database {url}")]
    Database {
        /// The URL, password masked.
        url: String,
        /// What the store said.
        #[source]
        source: StoreError,
    },
}
