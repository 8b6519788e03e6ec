//! Evaluating schedules: cron patterns in IANA time zones.

use overseer_domain::{Schedule, ValidationError};
use time::OffsetDateTime;

/// Answers when a schedule ticks. Pure: no clock of its own, the caller says when "now" is.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait ScheduleCalendar: Send + Sync {
    /// Whether `schedule` can be evaluated here.
    ///
    /// # Errors
    /// A [`ValidationError`] on `schedule` (not a cron pattern) or `schedule_timezone` (not an
    /// IANA time zone).
    fn check(&self, schedule: &Schedule) -> Result<(), ValidationError>;

    /// The latest tick of `schedule` at or before `now`, in UTC; `None` when the pattern has
    /// none (a date that never comes).
    ///
    /// # Errors
    /// As [`ScheduleCalendar::check`].
    fn latest_tick(
        &self,
        schedule: &Schedule,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, ValidationError>;
}
