//! What starts a run besides a person: cron schedules (`scheduler`; the pattern and its time zone
//! are `tasks::calendar`) and signed inbound webhooks (`webhooks`).

pub(crate) mod scheduler;
pub(crate) mod webhooks;
