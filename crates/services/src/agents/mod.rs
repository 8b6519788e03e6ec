//! The agents a node runs: the bounded pool of live agents by session (`pool`), the ledger of
//! process slots it shares with the warm agents (`slots`, `warm`), whether this node can run
//! agents at all (`runtime`), and the MCP servers an agent is given (`mcp_servers`, the
//! registry; `mcp_config`, what one session gets).

pub(crate) mod mcp_config;
pub(crate) mod mcp_servers;
pub(crate) mod option_rules;
pub(crate) mod pool;
pub(crate) mod runtime;
pub(crate) mod slots;
pub(crate) mod warm;
