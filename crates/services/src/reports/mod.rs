//! Reports: a session's record (messages, tool calls, metrics) and, for a task run, its task,
//! variables and outcome, rendered and stored as `<data_dir>/reports/<id>/report.<ext>`.

use overseer_domain::AuditAction;
use std::sync::Arc;

use overseer_domain::{
    ContentBlock, Message, MessageType, Report, ReportFormat, ReportId, ReportTitle, Session,
    SessionId, TaskExecution, ToolCall,
};
use overseer_ports::{PageRequest, ReportFiles, Scope};
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use crate::audit::{AuditRecord, AuditService};
use crate::context::Deps;
use crate::error::ServiceError;
use overseer_ports::report_renderer::{
    Metrics, Outcome, ReportData, ReportRenderer, TimelineEntry, ToolCallLine,
};

/// Messages read into one report at most.
const MAX_MESSAGES: u32 = 10_000;
const SUMMARY_CHARS: usize = 300;

/// Writes reports of sessions and runs.
pub struct ReportService {
    deps: Deps,
    audit: AuditService,
    files: Arc<dyn ReportFiles>,
    renderer: Arc<dyn ReportRenderer>,
}

impl std::fmt::Debug for ReportService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportService").finish_non_exhaustive()
    }
}

/// What a report is about besides the session.
#[derive(Clone, Debug, Default)]
pub struct ReportSubject<'a> {
    /// The task's name, for a run.
    pub task_name: Option<&'a str>,
    /// The run, for a task run.
    pub execution: Option<&'a TaskExecution>,
    /// Whether the run asked for it (rather than a person).
    pub auto_generated: bool,
}

fn stamp(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn short(text: &str) -> String {
    let mut out: String = text.chars().take(SUMMARY_CHARS).collect();
    if text.chars().count() > SUMMARY_CHARS {
        out.push('…');
    }
    out
}

/// A one-line reading of a stored message, from its blocks.
fn summary(message: &Message) -> String {
    let body = &message.body;
    let parts: Vec<String> = body
        .blocks
        .iter()
        .map(|block| match block {
            ContentBlock::Text { text } | ContentBlock::Thinking { text } => text.clone(),
            ContentBlock::ToolUse { name, input, .. } => format!("uses {name} {input}"),
            ContentBlock::ToolResult { content, .. } => content.clone(),
            ContentBlock::Error { text } => format!("failed: {text}"),
        })
        .collect();
    let text = if !parts.is_empty() {
        parts.join(" ")
    } else if message.message_type == MessageType::Result {
        match &body.structured_output {
            Some(output) => format!("ended with {output}"),
            None => "ended".to_owned(),
        }
    } else {
        message.message_type.to_string()
    };
    short(&text)
}

impl ReportService {
    /// The service over `deps`, storing files in `files`, rendering with `renderer`.
    #[must_use]
    pub fn new(deps: Deps, files: Arc<dyn ReportFiles>, renderer: Arc<dyn ReportRenderer>) -> Self {
        Self {
            audit: AuditService::new(deps.clone()),
            deps,
            files,
            renderer,
        }
    }

    async fn data(
        &self,
        session: &Session,
        subject: &ReportSubject<'_>,
    ) -> Result<ReportData, ServiceError> {
        let messages = self
            .deps
            .repos
            .messages
            .list_after(session.id, 0, MAX_MESSAGES)
            .await?;
        let calls: Vec<ToolCall> = self
            .deps
            .repos
            .tool_calls
            .list_for_session(session.id, PageRequest::new(PageRequest::MAX_LIMIT, 0))
            .await?
            .items;
        let execution = subject.execution;
        // The answer: the last text the model wrote.
        let result = messages
            .iter()
            .rev()
            .filter(|m| m.message_type == MessageType::Assistant)
            .map(|m| m.body.text())
            .find(|text| !text.is_empty());
        let title = subject
            .task_name
            .map_or_else(|| session.name.to_string(), str::to_owned);
        Ok(ReportData {
            title,
            task_name: subject.task_name.map(str::to_owned),
            session_id: session.id.to_string(),
            execution_id: execution.map(|e| e.id.to_string()),
            trigger: execution.map(|e| e.trigger.to_string()),
            variables: execution
                .map(|e| {
                    e.variables
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            outcome: Outcome {
                status: execution
                    .map_or_else(|| session.status().to_string(), |e| e.status().to_string()),
                result,
                structured_output: execution.and_then(|e| e.structured_output.clone()),
                error: execution
                    .and_then(|e| e.error_message.clone())
                    .or_else(|| session.error_message.clone()),
                started_at: execution.and_then(|e| e.started_at).map(stamp),
                completed_at: execution.and_then(|e| e.completed_at).map(stamp),
                duration_seconds: execution.and_then(|e| e.duration_seconds),
            },
            metrics: Metrics {
                messages: session.usage.message_count,
                input_tokens: session.usage.input_tokens,
                output_tokens: session.usage.output_tokens,
                total_cost_usd: session.usage.total_cost_usd,
                tool_calls: calls.len(),
            },
            timeline: messages
                .iter()
                .map(|m| TimelineEntry {
                    sequence: m.sequence_number,
                    at: stamp(m.created_at),
                    kind: m.message_type.to_string(),
                    summary: summary(m),
                })
                .collect(),
            tool_calls: calls
                .iter()
                .map(|c| ToolCallLine {
                    tool_name: c.tool_name.clone(),
                    status: c.status.to_string(),
                    decision: c.permission_decision.map(|d| d.to_string()),
                    input: c.tool_input.to_string(),
                    output: c.tool_output.clone(),
                    duration_ms: c.duration_ms,
                })
                .collect(),
            generated_at: stamp(self.deps.clock.now()),
        })
    }

    /// # Errors
    /// `NotFound` if missing or someone else's.
    pub async fn get(
        &self,
        ctx: &crate::RequestContext,
        id: ReportId,
    ) -> Result<Report, ServiceError> {
        Ok(self.deps.repos.reports.get(id, ctx.scope()).await?)
    }

    /// The report and its file's bytes.
    ///
    /// # Errors
    /// `NotFound`; [`ServiceError::Files`] if the file is gone.
    pub async fn download(
        &self,
        ctx: &crate::RequestContext,
        id: ReportId,
    ) -> Result<(Report, Vec<u8>), ServiceError> {
        let report = self.get(ctx, id).await?;
        let bytes = self.files.read(&report.file_path).await?;
        Ok((report, bytes))
    }

    /// Renders, writes and records a report of `session`.
    ///
    /// # Errors
    /// `NotFound`; [`ServiceError::Files`] if the file cannot be written (nothing is recorded
    /// then); storage errors.
    #[tracing::instrument(skip(self, subject), fields(session = %session_id))]
    pub async fn generate(
        &self,
        session_id: SessionId,
        format: ReportFormat,
        subject: ReportSubject<'_>,
    ) -> Result<Report, ServiceError> {
        let session = self
            .deps
            .repos
            .sessions
            .get(session_id, Scope::Admin)
            .await?;
        let data = self.data(&session, &subject).await?;
        let id = ReportId::from_uuid(self.deps.ids.new_id());
        let file_path = self
            .files
            .write(id, format, self.renderer.render(format, &data))
            .await?;
        let report = Report {
            id,
            session_id,
            user_id: session.user_id,
            title: ReportTitle::new(short(&data.title))?,
            format,
            file_path,
            auto_generated: subject.auto_generated,
            created_at: self.deps.clock.now(),
        };
        self.deps.repos.reports.insert(&report).await?;
        let record = AuditRecord {
            actor: Some(session.user_id),
            action: AuditAction::ReportGenerated,
            resource_type: "report",
            resource_id: Some(id.to_string()),
            details: json!({"session_id": session_id, "format": format}),
        };
        self.audit.record(record, None).await?;
        Ok(report)
    }
}
