//! Several nodes on one database: `link` (a session's host node, routing to it) and `relay`
//! (live events and commands over the cluster bus). What a command does when it arrives is
//! `sessions::remote_commands`.

pub(crate) mod link;
pub(crate) mod relay;
