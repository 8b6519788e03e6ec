//! Reports rendered from one model into the four formats. The services gather a
//! [`ReportData`]; a [`ReportRenderer`] adapter turns it into a document's bytes.

use overseer_domain::ReportFormat;

/// Everything a report shows.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ReportData {
    pub title: String,
    pub task_name: Option<String>,
    pub session_id: String,
    pub execution_id: Option<String>,
    pub trigger: Option<String>,
    pub variables: serde_json::Map<String, serde_json::Value>,
    pub outcome: Outcome,
    pub metrics: Metrics,
    pub timeline: Vec<TimelineEntry>,
    pub tool_calls: Vec<ToolCallLine>,
    pub generated_at: String,
}

/// How the run or session ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub status: String,
    pub result: Option<String>,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub duration_seconds: Option<f64>,
}

/// What it consumed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Metrics {
    pub messages: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_cost_usd: f64,
    pub tool_calls: usize,
}

/// One message of the session, summarised.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TimelineEntry {
    pub sequence: u64,
    pub at: String,
    pub kind: String,
    pub summary: String,
}

/// One tool call: what was asked, allowed and returned.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ToolCallLine {
    pub tool_name: String,
    pub status: String,
    pub decision: Option<String>,
    pub input: String,
    pub output: Option<String>,
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
