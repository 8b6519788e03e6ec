//! The report renderer: one report model ([`ReportData`], from the ports), four formats —
//! markdown, HTML, JSON and PDF (text set in Helvetica with `pdf-writer`). Pure functions from
//! data to bytes.

use std::fmt::Write as _;

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use overseer_domain::ReportFormat;
use overseer_ports::report_renderer::{ReportData, ReportRenderer};

/// Renders reports in every [`ReportFormat`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DocumentRenderer;

impl ReportRenderer for DocumentRenderer {
    fn render(&self, format: ReportFormat, data: &ReportData) -> Vec<u8> {
        render(format, data)
    }
}

/// Renders `data` in `format`.
#[must_use]
pub fn render(format: ReportFormat, data: &ReportData) -> Vec<u8> {
    match format {
        ReportFormat::Markdown => markdown(data).into_bytes(),
        ReportFormat::Html => html(data).into_bytes(),
        ReportFormat::Json => serde_json::to_vec_pretty(data).unwrap_or_default(),
        ReportFormat::Pdf => pdf(&plain_lines(data)),
    }
}

fn fence(text: &str) -> String {
    // A fence longer than any backtick run inside cannot be closed by the content.
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

fn markdown(d: &ReportData) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", d.title);
    if let Some(task) = &d.task_name {
        let _ = writeln!(out, "- **Task:** {task}");
    }
    let _ = writeln!(out, "- **Session:** {}", d.session_id);
    if let Some(id) = &d.execution_id {
        let _ = writeln!(out, "- **Execution:** {id}");
    }
    if let Some(trigger) = &d.trigger {
        let _ = writeln!(out, "- **Trigger:** {trigger}");
    }
    let _ = writeln!(out, "- **Status:** {}", d.outcome.status);
    if let Some(seconds) = d.outcome.duration_seconds {
        let _ = writeln!(out, "- **Duration:** {seconds:.1} s");
    }
    let _ = writeln!(out, "- **Generated:** {}\n", d.generated_at);
    if !d.variables.is_empty() {
        let _ = writeln!(out, "## Variables\n");
        for (name, value) in &d.variables {
            let _ = writeln!(
                out,
                "- `{name}` = `{}`",
                value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned)
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## Outcome\n");
    if let Some(result) = &d.outcome.result {
        let _ = writeln!(out, "{result}\n");
    }
    if let Some(output) = &d.outcome.structured_output {
        let pretty = serde_json::to_string_pretty(output).unwrap_or_default();
        let _ = writeln!(out, "Structured output:\n\n```json\n{pretty}\n```\n");
    }
    if let Some(error) = &d.outcome.error {
        let _ = writeln!(out, "**Error:** {error}\n");
    }
    let m = &d.metrics;
    let _ = writeln!(
        out,
        "## Metrics\n\n| messages | input tokens | output tokens | cost (USD) | tool calls |\n|---|---|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| {} | {} | {} | {:.4} | {} |\n",
        m.messages, m.input_tokens, m.output_tokens, m.total_cost_usd, m.tool_calls
    );
    if !d.tool_calls.is_empty() {
        let _ = writeln!(out, "## Tool calls\n");
        for call in &d.tool_calls {
            let decision = call.decision.as_deref().unwrap_or("-");
            let _ = writeln!(
                out,
                "### {} ({}, permission: {decision})\n",
                call.tool_name, call.status
            );
            let f = fence(&call.input);
            let _ = writeln!(out, "{f}json\n{}\n{f}\n", call.input);
            if let Some(output) = &call.output {
                let f = fence(output);
                let _ = writeln!(out, "{f}\n{output}\n{f}\n");
            }
        }
    }
    let _ = writeln!(out, "## Timeline\n");
    for entry in &d.timeline {
        let _ = writeln!(
            out,
            "{}. `{}` **{}** {}",
            entry.sequence,
            entry.at,
            entry.kind,
            entry.summary.replace('\n', " ")
        );
    }
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn html(d: &ReportData) -> String {
    let e = escape;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem}}\
         pre{{background:#f6f6f6;padding:.6rem;overflow-x:auto;white-space:pre-wrap}}</style></head><body>",
        e(&d.title)
    );
    let _ = write!(out, "<h1>{}</h1><dl>", e(&d.title));
    let mut field = |name: &str, value: &str| {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", e(name), e(value));
    };
    if let Some(task) = &d.task_name {
        field("Task", task);
    }
    field("Session", &d.session_id);
    if let Some(id) = &d.execution_id {
        field("Execution", id);
    }
    field("Status", &d.outcome.status);
    field("Generated", &d.generated_at);
    out.push_str("</dl>");
    if !d.variables.is_empty() {
        out.push_str("<h2>Variables</h2><table><tr><th>name</th><th>value</th></tr>");
        for (name, value) in &d.variables {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td></tr>",
                e(name),
                e(&value.to_string())
            );
        }
        out.push_str("</table>");
    }
    out.push_str("<h2>Outcome</h2>");
    if let Some(result) = &d.outcome.result {
        let _ = write!(out, "<pre>{}</pre>", e(result));
    }
    if let Some(output) = &d.outcome.structured_output {
        let pretty = serde_json::to_string_pretty(output).unwrap_or_default();
        let _ = write!(
            out,
            "<h3>Structured output</h3><pre class=\"json\">{}</pre>",
            e(&pretty)
        );
    }
    if let Some(error) = &d.outcome.error {
        let _ = write!(out, "<p><strong>Error:</strong> {}</p>", e(error));
    }
    let m = &d.metrics;
    let _ = write!(
        out,
        "<h2>Metrics</h2><table><tr><th>messages</th><th>input tokens</th><th>output tokens</th><th>cost (USD)</th><th>tool calls</th></tr>\
         <tr><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{}</td></tr></table>",
        m.messages, m.input_tokens, m.output_tokens, m.total_cost_usd, m.tool_calls
    );
    if !d.tool_calls.is_empty() {
        out.push_str("<h2>Tool calls</h2>");
        for call in &d.tool_calls {
            let _ = write!(
                out,
                "<h3>{} ({}, permission: {})</h3><pre>{}</pre>",
                e(&call.tool_name),
                e(&call.status),
                e(call.decision.as_deref().unwrap_or("-")),
                e(&call.input)
            );
            if let Some(output) = &call.output {
                let _ = write!(out, "<pre>{}</pre>", e(output));
            }
        }
    }
    out.push_str("<h2>Timeline</h2><ol>");
    for entry in &d.timeline {
        let _ = write!(
            out,
            "<li><code>{}</code> <strong>{}</strong> {}</li>",
            e(&entry.at),
            e(&entry.kind),
            e(&entry.summary)
        );
    }
    out.push_str("</ol></body></html>\n");
    out
}

/// The report as plain text lines, for the PDF.
fn plain_lines(d: &ReportData) -> Vec<String> {
    markdown(d)
        .lines()
        .map(|line| line.replace("**", "").replace('`', ""))
        .collect()
}

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const FONT_SIZE: f32 = 9.5;
const LEADING: f32 = 12.5;
const WRAP_AT: usize = 100;

/// Latin-1 bytes for the WinAnsi-encoded base font; other characters become '?'.
fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match u8::try_from(u32::from(c)) {
            Ok(b) if b >= 0x20 && b != 0x7f && !(0x80..0xa0).contains(&b) => b,
            _ => b'?',
        })
        .collect()
}

fn wrap(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines {
        let chars: Vec<char> = line.chars().collect();
        if chars.is_empty() {
            out.push(String::new());
        }
        for chunk in chars.chunks(WRAP_AT) {
            out.push(chunk.iter().collect());
        }
    }
    out
}

/// A real PDF with the built-in Helvetica font, as many A4 pages as the text needs.
fn pdf(lines: &[String]) -> Vec<u8> {
    let lines = wrap(lines);
    let per_page = ((PAGE_HEIGHT - 2.0 * MARGIN) / LEADING) as usize;
    let pages: Vec<&[String]> = lines.chunks(per_page.max(1)).collect();
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let font_name = Name(b"F1");
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(4 + 2 * i as i32))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(page_ids.len() as i32);
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    for (i, page_lines) in pages.iter().enumerate() {
        let page_id = page_ids[i];
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        page.parent(tree);
        page.contents(content_id);
        page.resources().fonts().pair(font_name, font);
        page.finish();
        let mut content = Content::new();
        content.begin_text();
        content.set_font(font_name, FONT_SIZE);
        content.set_leading(LEADING);
        content.next_line(MARGIN, PAGE_HEIGHT - MARGIN);
        for line in *page_lines {
            content.show(Str(&latin1(line)));
            content.next_line_using_leading();
        }
        content.end_text();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use overseer_ports::report_renderer::{Metrics, Outcome, TimelineEntry, ToolCallLine};

    use super::*;

    fn sample() -> ReportData {
        ReportData {
            title: "Kubernetes Cluster Health Check".into(),
            task_name: Some("Kubernetes Cluster Health Check".into()),
            session_id: "s-1".into(),
            execution_id: Some("e-1".into()),
            trigger: Some("manual".into()),
            variables: serde_json::from_value(serde_json::json!({"cluster_name": "production"}))
                .unwrap(),
            outcome: Outcome {
                status: "completed".into(),
                result: Some("All <b>pods</b> healthy & ready".into()),
                structured_output: Some(serde_json::json!({"healthy": true, "note": "<i>"})),
                error: None,
                started_at: None,
                completed_at: None,
                duration_seconds: Some(1.5),
            },
            metrics: Metrics {
                messages: 6,
                input_tokens: 24,
                output_tokens: 14,
                total_cost_usd: 0.01,
                tool_calls: 1,
            },
            timeline: vec![TimelineEntry {
                sequence: 1,
                at: "t".into(),
                kind: "user".into(),
                summary: "<script>alert(1)</script>".into(),
            }],
            tool_calls: vec![ToolCallLine {
                tool_name: "Bash".into(),
                status: "completed".into(),
                decision: Some("allowed".into()),
                input: r#"{"command":"kubectl get pods"}"#.into(),
                output: Some("```\nNAME READY\n".into()),
                duration_ms: Some(12),
            }],
            generated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn html_escapes_every_value() {
        let page = html(&sample());
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("All &lt;b&gt;pods&lt;/b&gt; healthy &amp; ready"));
    }

    #[test]
    fn markdown_fences_outlast_backticks_in_output() {
        let text = markdown(&sample());
        assert!(text.contains("````\n```\nNAME READY"), "{text}");
        assert!(text.contains("`cluster_name` = `production`"));
    }

    #[test]
    fn every_format_shows_the_structured_output() {
        let data = sample();
        let text = markdown(&data);
        assert!(text.contains("```json\n{\n  \"healthy\": true,"), "{text}");
        let page = html(&data);
        assert!(
            page.contains("&quot;note&quot;: &quot;&lt;i&gt;&quot;")
                || page.contains("\"note\": \"&lt;i&gt;\""),
            "{page}"
        );
        let value: serde_json::Value =
            serde_json::from_slice(&render(ReportFormat::Json, &data)).unwrap();
        assert_eq!(value["outcome"]["structured_output"]["healthy"], true);
        assert!(
            plain_lines(&data)
                .iter()
                .any(|l| l.contains("\"healthy\": true"))
        );
    }

    #[test]
    fn json_holds_the_model() {
        let value: serde_json::Value =
            serde_json::from_slice(&render(ReportFormat::Json, &sample())).unwrap();
        assert_eq!(value["task_name"], "Kubernetes Cluster Health Check");
        assert_eq!(value["tool_calls"][0]["tool_name"], "Bash");
    }

    #[test]
    fn pdf_is_a_pdf_over_several_pages_when_long() {
        let mut data = sample();
        data.timeline = (0..200)
            .map(|i| TimelineEntry {
                sequence: i,
                at: "t".into(),
                kind: "assistant".into(),
                summary: "ü line".into(),
            })
            .collect();
        let bytes = render(ReportFormat::Pdf, &data);
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.matches("/Type /Page\n").count() + text.matches("/Type /Page ").count() >= 1);
        assert!(
            text.contains("/Count 4") || text.contains("/Count 5"),
            "200+ lines span several pages"
        );
    }
}
