//! Task runs: the queue worker that claims pending executions under the node's and the
//! cluster's limits (`queue`), the run of one execution (`executor`: snapshot → session → turn
//! → report → final status).

pub(crate) mod executor;
pub(crate) mod queue;
