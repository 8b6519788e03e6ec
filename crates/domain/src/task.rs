//! Tasks: a named prompt template with agent options, owned by a user.

use time::OffsetDateTime;

use crate::agent_options::AgentOptions;
use crate::ids::{TaskId, UserId};
use crate::report::ReportFormat;
use crate::string_enum::string_enum;
use crate::template::TaskTemplate;
use crate::validation::{ValidationError, check_optional_text, check_text, validated_string};

const MAX_DESCRIPTION_CHARS: usize = 4000;

validated_string!(
    /// A task's display name: 1 to 200 characters, no control characters.
    TaskName,
    |value| check_text("name", value, 200)
);

validated_string!(
    /// A cron expression for a scheduled task (its syntax is checked by the scheduler).
    CronSchedule,
    |value| check_text("schedule", value, 256)
);

validated_string!(
    /// An IANA time zone name such as `Europe/Berlin` (checked by the scheduler).
    TimeZoneName,
    |value| check_text("schedule_timezone", value, 64)
);

impl TimeZoneName {
    /// Coordinated Universal Time, the default.
    #[must_use]
    pub fn utc() -> Self {
        Self("UTC".to_owned())
    }
}

string_enum!(
    /// What happens to ticks that passed while no node was running the scheduler.
    MissedTicks("schedule_missed_ticks") {
        /// They are dropped; the next tick runs at its time.
        Skip => "skip",
        /// One run catches up for all of them (for the latest).
        RunOnce => "run_once",
    }
);

/// When a task runs by itself: a cron pattern read in a time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub cron: CronSchedule,
    pub time_zone: TimeZoneName,
    pub missed: MissedTicks,
}

impl Schedule {
    /// The schedule after a change to `current`: `cron` `Some(None)` removes it, `None` keeps
    /// the pattern; a time zone or policy left unset keeps the current one, defaulting to UTC
    /// and `skip`.
    ///
    /// # Errors
    /// A [`ValidationError`] on `schedule` when a time zone or policy is given without a
    /// pattern.
    pub fn changed(
        current: Option<&Schedule>,
        cron: Option<Option<CronSchedule>>,
        time_zone: Option<TimeZoneName>,
        missed: Option<MissedTicks>,
    ) -> Result<Option<Schedule>, ValidationError> {
        let cron = match cron {
            Some(cron) => cron,
            None => current.map(|s| s.cron.clone()),
        };
        let Some(cron) = cron else {
            if time_zone.is_some() || missed.is_some() {
                return Err(ValidationError::new(
                    "schedule",
                    "a time zone or missed-tick policy needs a schedule",
                ));
            }
            return Ok(None);
        };
        Ok(Some(Schedule {
            cron,
            time_zone: time_zone
                .or_else(|| current.map(|s| s.time_zone.clone()))
                .unwrap_or_else(TimeZoneName::utc),
            missed: missed
                .or_else(|| current.map(|s| s.missed))
                .unwrap_or(MissedTicks::Skip),
        }))
    }
}

/// Checks an optional description: at most 4000 characters, no control characters.
///
/// # Errors
/// A [`ValidationError`] on `description`.
pub fn check_description(description: Option<&str>) -> Result<(), ValidationError> {
    description.map_or(Ok(()), |d| {
        check_optional_text("description", d, MAX_DESCRIPTION_CHARS)
    })
}

/// A task definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub id: TaskId,
    pub user_id: UserId,
    pub name: TaskName,
    pub description: Option<String>,
    pub template: TaskTemplate,
    pub options: AgentOptions,
    pub is_active: bool,
    pub is_deleted: bool,
    pub generate_report: bool,
    pub report_format: ReportFormat,
    pub schedule: Option<Schedule>,
    /// Starts at 1 and grows by one with every update: executions record which version ran,
    /// and updates are compare-and-set on it.
    pub version: u32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What a caller supplies to create a task.
#[derive(Clone, Debug, PartialEq)]
pub struct NewTask {
    pub name: TaskName,
    pub description: Option<String>,
    pub template: TaskTemplate,
    pub options: AgentOptions,
    pub generate_report: bool,
    pub report_format: ReportFormat,
    pub schedule: Option<Schedule>,
}

impl Task {
    /// A new active task at version 1.
    ///
    /// # Errors
    /// A [`ValidationError`] on `description`.
    pub fn new(
        id: TaskId,
        user_id: UserId,
        new: NewTask,
        now: OffsetDateTime,
    ) -> Result<Self, ValidationError> {
        check_description(new.description.as_deref())?;
        Ok(Self {
            id,
            user_id,
            name: new.name,
            description: new.description,
            template: new.template,
            options: new.options,
            is_active: true,
            is_deleted: false,
            generate_report: new.generate_report,
            report_format: new.report_format,
            schedule: new.schedule,
            version: 1,
            created_at: now,
            updated_at: now,
        })
    }

    /// The part of the task an execution runs with, frozen at the time it was queued.
    #[must_use]
    pub fn snapshot(&self) -> TaskSnapshot {
        TaskSnapshot {
            task_version: self.version,
            task_name: Some(self.name.clone()),
            template: self.template.clone(),
            options: self.options.clone(),
            report: Some(self.generate_report.then_some(self.report_format)),
        }
    }
}

/// The template, variable declarations and options of one task version. An execution keeps
/// its own copy, so editing the task never changes what an execution ran.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSnapshot {
    pub task_version: u32,
    /// The task's name then; `None` only in snapshots stored before it was kept.
    pub task_name: Option<TaskName>,
    pub template: TaskTemplate,
    pub options: AgentOptions,
    /// The report the run writes (`Some(None)`: none); `None` only in snapshots stored before
    /// the report settings were kept, whose runs read them from the task.
    pub report: Option<Option<ReportFormat>>,
}

#[cfg(test)]
mod tests {

    use super::*;

    fn cron(pattern: &str) -> CronSchedule {
        CronSchedule::new(pattern).unwrap()
    }

    #[test]
    fn a_schedule_change_keeps_what_it_does_not_set() {
        let berlin = TimeZoneName::new("Europe/Berlin").unwrap();
        let created = Schedule::changed(None, Some(Some(cron("0 9 * * *"))), None, None)
            .unwrap()
            .unwrap();
        assert_eq!(created.time_zone, TimeZoneName::utc());
        assert_eq!(created.missed, MissedTicks::Skip);

        let zoned = Schedule::changed(Some(&created), None, Some(berlin.clone()), None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (zoned.cron.as_str(), &zoned.time_zone),
            ("0 9 * * *", &berlin)
        );

        let repatterned = Schedule::changed(
            Some(&zoned),
            Some(Some(cron("0 18 * * *"))),
            None,
            Some(MissedTicks::RunOnce),
        )
        .unwrap()
        .unwrap();
        assert_eq!(repatterned.time_zone, berlin, "the zone stays");
        assert_eq!(repatterned.missed, MissedTicks::RunOnce);

        assert_eq!(
            Schedule::changed(Some(&zoned), Some(None), None, None).unwrap(),
            None
        );
        assert_eq!(Schedule::changed(None, None, None, None).unwrap(), None);
    }

    #[test]
    fn a_zone_or_policy_without_a_pattern_is_refused() {
        let err = Schedule::changed(None, None, Some(TimeZoneName::utc()), None).unwrap_err();
        assert_eq!(err.field, "schedule");
        let removed = Schedule::changed(None, Some(None), None, Some(MissedTicks::Skip));
        assert!(removed.is_err());
    }

    #[test]
    fn names_and_descriptions_are_checked() {
        assert!(TaskName::new("").is_err());
        assert!(TaskName::new("x".repeat(201)).is_err());
        assert!(check_description(Some(&"x".repeat(4001))).is_err());
        assert!(check_description(None).is_ok());
    }
}
