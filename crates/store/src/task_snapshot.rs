//! How an execution's task snapshot is stored: one JSON document in `task_executions.task_snapshot`.
//! Snapshots written before `task_name` and `report_format` were kept still read (as `None`).

use overseer_domain::template::VariableSpec;
use overseer_domain::{
    AgentOptions, PromptTemplate, ReportFormat, TaskName, TaskSnapshot, TaskTemplate,
    ValidationError,
};
use serde_json::{Value, json};

/// The stored JSON form.
#[must_use]
pub(crate) fn to_json(snapshot: &TaskSnapshot) -> Value {
    let mut json = json!({
        "task_version": snapshot.task_version,
        "prompt_template": snapshot.template.template().source(),
        "variables": snapshot.template.variables(),
        "sdk_options": snapshot.options.to_json(),
    });
    if let Some(name) = &snapshot.task_name {
        json["task_name"] = json!(name.as_str());
    }
    if let Some(report) = snapshot.report {
        json["report_format"] = json!(report.map(ReportFormat::as_str));
    }
    json
}

/// Parses the stored JSON form.
///
/// # Errors
/// A [`ValidationError`] naming the part that does not parse.
pub(crate) fn from_json(value: &Value) -> Result<TaskSnapshot, ValidationError> {
    let field = |name: &str| value.get(name).cloned().unwrap_or(Value::Null);
    let task_version = field("task_version")
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| ValidationError::new("task_snapshot.task_version", "missing"))?;
    let source = field("prompt_template")
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ValidationError::new("task_snapshot.prompt_template", "missing"))?;
    let variables: Vec<VariableSpec> = serde_json::from_value(field("variables"))
        .map_err(|e| ValidationError::new("task_snapshot.variables", e))?;
    let template = PromptTemplate::parse(source)
        .and_then(|t| TaskTemplate::new(t, variables))
        .map_err(|e| ValidationError::new("task_snapshot.prompt_template", e))?;
    let options = AgentOptions::from_json(field("sdk_options"))?;
    let task_name = match value.get("task_name") {
        None => None,
        Some(name) => Some(
            name.as_str()
                .ok_or_else(|| ValidationError::new("task_snapshot.task_name", "not a string"))
                .and_then(TaskName::new)?,
        ),
    };
    let report = match value.get("report_format") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(format) => Some(Some(
            format
                .as_str()
                .ok_or_else(|| ValidationError::new("task_snapshot.report_format", "not a string"))?
                .parse::<ReportFormat>()?,
        )),
    };
    Ok(TaskSnapshot {
        task_version,
        task_name,
        template,
        options,
        report,
    })
}

#[cfg(test)]
mod tests {
    use overseer_domain::template::VariableName;
    use overseer_domain::{NewTask, Task, TaskId, UserId};

    use super::*;

    fn sample_task() -> Task {
        let template = TaskTemplate::new(
            PromptTemplate::parse("Check {cluster_name}").unwrap(),
            vec![VariableSpec::required_string(
                VariableName::new("cluster_name").unwrap(),
            )],
        )
        .unwrap();
        Task::new(
            TaskId::from_uuid(uuid::Uuid::nil()),
            UserId::from_uuid(uuid::Uuid::nil()),
            NewTask {
                name: TaskName::new("Kubernetes Cluster Health Check").unwrap(),
                description: None,
                template,
                options: AgentOptions::default(),
                generate_report: false,
                report_format: ReportFormat::Markdown,
                schedule: None,
            },
            time::macros::datetime!(2026-01-01 0:00 UTC),
        )
        .unwrap()
    }

    #[test]
    fn snapshot_round_trips_through_json() {
        let snapshot = sample_task().snapshot();
        assert_eq!(from_json(&to_json(&snapshot)).unwrap(), snapshot);
        let mut reporting = sample_task();
        reporting.generate_report = true;
        reporting.report_format = ReportFormat::Pdf;
        let snapshot = reporting.snapshot();
        assert_eq!(snapshot.report, Some(Some(ReportFormat::Pdf)));
        assert_eq!(from_json(&to_json(&snapshot)).unwrap(), snapshot);
    }

    #[test]
    fn a_snapshot_stored_before_names_and_reports_were_kept_still_reads() {
        let mut old = to_json(&sample_task().snapshot());
        let fields = old.as_object_mut().unwrap();
        fields.remove("task_name");
        fields.remove("report_format");
        let read = from_json(&old).unwrap();
        assert_eq!((read.task_name, read.report), (None, None));
    }
}
