//! Live events: the in-process broadcaster and its subscribe side (`broadcast`), the typed
//! events the services publish (`live`), and the watch that tells waiters an execution ended
//! (`execution_watch`).

pub(crate) mod broadcast;
pub(crate) mod execution_watch;
pub(crate) mod live;
