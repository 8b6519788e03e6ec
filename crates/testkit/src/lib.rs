//! Test support shared by every crate: in-memory adapters, fixtures, and the contract suites
//! that every adapter of a port must pass.
//!
//! Panicking is how test support reports a failure, so `unwrap`/`expect` are allowed here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod agent_contract;
pub mod cli;
pub mod contract;
pub mod fake_api;
pub mod fake_kubernetes;
pub mod fixtures;
#[cfg(feature = "http-client")]
pub mod http_api;
#[cfg(feature = "http-client")]
pub mod live_stream;
pub mod memory;
pub mod processes;
#[cfg(feature = "http-client")]
pub mod receiver;
pub mod script;
pub mod waits;

pub use memory::{MemoryCluster, MemoryStore};
