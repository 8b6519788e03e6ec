//! The schedule calendar adapter: a cron pattern (croner) in an IANA time zone (chrono-tz),
//! answered in UTC `OffsetDateTime`s. Daylight-saving gaps and repeats follow croner.

use std::str::FromStr;

use chrono::{DateTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use croner::Cron;
use overseer_domain::{Schedule, ValidationError};
use overseer_ports::ScheduleCalendar;
use time::OffsetDateTime;

/// Evaluates schedules with croner and chrono-tz.
#[derive(Clone, Copy, Debug, Default)]
pub struct CronCalendar;

impl ScheduleCalendar for CronCalendar {
    fn check(&self, schedule: &Schedule) -> Result<(), ValidationError> {
        Calendar::new(schedule).map(drop)
    }

    fn latest_tick(
        &self,
        schedule: &Schedule,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, ValidationError> {
        Ok(Calendar::new(schedule)?.latest_tick(now))
    }
}

/// A schedule ready to evaluate.
#[derive(Clone, Debug)]
struct Calendar {
    cron: Cron,
    zone: Tz,
}

impl Calendar {
    /// # Errors
    /// A [`ValidationError`] on `schedule` (bad pattern) or `schedule_timezone` (unknown zone).
    fn new(schedule: &Schedule) -> Result<Self, ValidationError> {
        let cron = Cron::from_str(schedule.cron.as_str())
            .map_err(|e| ValidationError::new("schedule", format!("not a cron pattern: {e}")))?;
        let zone = Tz::from_str(schedule.time_zone.as_str())
            .map_err(|_| ValidationError::new("schedule_timezone", "not an IANA time zone name"))?;
        Ok(Self { cron, zone })
    }

    /// The latest tick at or before `now`, if the pattern has one.
    fn latest_tick(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let local = self.zone.from_utc_datetime(&to_chrono(now)?.naive_utc());
        let tick = self.cron.find_previous_occurrence(&local, true).ok()?;
        from_chrono(tick.with_timezone(&Utc))
    }
}

fn to_chrono(at: OffsetDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(at.unix_timestamp(), at.nanosecond())
}

fn from_chrono(at: DateTime<Utc>) -> Option<OffsetDateTime> {
    let nanos =
        i128::from(at.timestamp()) * 1_000_000_000 + i128::from(at.timestamp_subsec_nanos());
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

#[cfg(test)]
mod tests {
    use overseer_domain::{CronSchedule, MissedTicks, TimeZoneName};
    use time::macros::datetime;

    use super::*;

    impl Calendar {
        /// The first tick after `after`, if the pattern has one.
        #[must_use]
        pub fn next_tick(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
            let local = self.zone.from_utc_datetime(&to_chrono(after)?.naive_utc());
            let tick = self.cron.find_next_occurrence(&local, false).ok()?;
            from_chrono(tick.with_timezone(&Utc))
        }
    }

    fn calendar(cron: &str, zone: &str) -> Result<Calendar, ValidationError> {
        Calendar::new(&Schedule {
            cron: CronSchedule::new(cron).unwrap(),
            time_zone: TimeZoneName::new(zone).unwrap(),
            missed: MissedTicks::Skip,
        })
    }

    #[test]
    fn ticks_are_read_in_the_time_zone() {
        // 09:00 in Berlin is 08:00 UTC in winter, 07:00 UTC in summer.
        let daily = calendar("0 9 * * *", "Europe/Berlin").unwrap();
        assert_eq!(
            daily.next_tick(datetime!(2026-01-10 12:00 UTC)),
            Some(datetime!(2026-01-11 08:00 UTC))
        );
        assert_eq!(
            daily.next_tick(datetime!(2026-07-10 12:00 UTC)),
            Some(datetime!(2026-07-11 07:00 UTC))
        );
        assert_eq!(
            daily.latest_tick(datetime!(2026-07-10 12:00 UTC)),
            Some(datetime!(2026-07-10 07:00 UTC))
        );
    }

    #[test]
    fn the_latest_tick_includes_now() {
        let minutely = calendar("* * * * *", "UTC").unwrap();
        assert_eq!(
            minutely.latest_tick(datetime!(2026-11-24 10:05:00 UTC)),
            Some(datetime!(2026-11-24 10:05:00 UTC))
        );
        assert_eq!(
            minutely.latest_tick(datetime!(2026-11-24 10:05:59 UTC)),
            Some(datetime!(2026-11-24 10:05:00 UTC))
        );
    }

    #[test]
    fn bad_patterns_and_zones_name_their_field() {
        assert_eq!(calendar("61 * * * *", "UTC").unwrap_err().field, "schedule");
        assert_eq!(
            calendar("* * * * *", "Mars/Olympus").unwrap_err().field,
            "schedule_timezone"
        );
    }
}
