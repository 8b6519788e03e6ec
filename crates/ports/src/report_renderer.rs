//! Reports rendered from one model into the four formats. The services gather a
//! [`ReportData`]; a [`ReportRenderer`] adapter turns it into a document's bytes.

use overseer_domain::ReportFormat;

/// Everything a report shows.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ReportData {
    /// The report's heading.
    pub title: String,
    /// The task's name, for a task run.
    pub task_name: Option<String>,
    /// The session reported on.
    pub session_id: String,
    /// The execution, for a task run.
    pub execution_id: Option<String>,
    /// What started the run (`manual`, `schedule`, `webhook`).
    pub trigger: Option<String>,
    /// The run's variables.
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// How it ended.
    pub outcome: Outcome,
    /// What it consumed.
    pub metrics: Metrics,
    /// Every message, summarised.
    pub timeline: Vec<TimelineEntry>,
    /// Every tool call.
    pub tool_calls: Vec<ToolCallLine>,
    /// When the report was made (RFC 3339).
    pub generated_at: String,
}

/// How the run or session ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Outcome {
    /// The final status.
    pub status: String,
    /// The agent's final text.
    pub result: Option<String>,
    /// The structured result, when the task asks for one (`output_format`).
    pub structured_output: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it started (RFC 3339).
    pub started_at: Option<String>,
    /// When it ended (RFC 3339).
    pub completed_at: Option<String>,
    /// How long it ran.
    pub duration_seconds: Option<f64>,
}

/// What it consumed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Messages stored.
    pub messages: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost in USD.
    pub total_cost_usd: f64,
    /// Tool calls made.
    pub tool_calls: usize,
}

/// One message of the session, summarised.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TimelineEntry {
    /// The message's sequence number.
    pub sequence: u64,
    /// When it was stored (RFC 3339).
    pub at: String,
    /// Its type (`user`, `assistant`, `tool_result` …).
    pub kind: String,
    /// A line of what it said.
    pub summary: String,
}

/// One tool call: what was asked, allowed and returned.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ToolCallLine {
    /// The tool.
    pub tool_name: String,
    /// How the call ended.
    pub status: String,
    /// Who allowed or denied it, and how.
    pub decision: Option<String>,
    /// Its input, as JSON.
    pub input: String,
    /// Its output, when it has one.
    pub output: Option<String>,
    /// How long it ran.
    pub duration_ms: Option<u64>,
}

/// Turns a report's data into a document.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait ReportRenderer: Send + Sync {
    /// The document for `data` in `format`: UTF-8 text for markdown, HTML and JSON (the JSON
    /// is `data` itself), a PDF's bytes. Rendering cannot fail: every value of the model has a
    /// rendering. Pure: the same data gives the same bytes.
    fn render(&self, format: ReportFormat, data: &ReportData) -> Vec<u8>;
}
