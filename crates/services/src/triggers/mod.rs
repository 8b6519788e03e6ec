//! What starts a run besides a person: cron schedules (`scheduler`; when a pattern ticks in its
//! time zone is the `ScheduleCalendar` port's answer) and signed inbound webhooks (`webhooks`).

pub(crate) mod scheduler;
pub(crate) mod webhooks;
