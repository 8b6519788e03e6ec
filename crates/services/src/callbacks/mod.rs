//! What an agent asks of the host while it works, answered here: permission requests
//! (`permissions`: the task's rules, then a person through the approval gate), hooks before
//! and after each tool (`hooks`: audit, `tool_tracking`: the tool-call rows), and `activity`,
//! which marks an agent busy while any of them is open so that it is never evicted mid-call.

pub(crate) mod activity;
pub(crate) mod hooks;
pub(crate) mod permissions;
pub(crate) mod tool_tracking;
