//! One execution is one trace: the HTTP request that queued it, its time in the queue, the
//! agent's start, the turn, the tool call and the approval it waited for, with the
//! OpenTelemetry GenAI attributes; and the agent's tools see the turn's `TRACEPARENT`.
//!
//! The spans go through the server's own subscriber set-up (`overseer_app::logging::init`) to
//! an in-memory exporter. A global subscriber: this test has a process of its own.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use opentelemetry::Value as OtelValue;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use overseer_app::logging::{self, LogFormat};
use overseer_app::{Settings, open_store};
use overseer_domain::SessionId;
use overseer_e2e::{Db, spawn_with_agent_and};
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::script::{Reply, Script};
use serde_json::{Value, json};

fn attribute(span: &SpanData, key: &str) -> Option<OtelValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
        panic!("no span {name} among {names:?}")
    })
}

/// Whether `ancestor` is `span`'s parent, or its parent's, and so on.
fn descends_from(spans: &[SpanData], span: &SpanData, ancestor: &SpanData) -> bool {
    let mut parent = span.parent_span_id;
    while parent != opentelemetry::trace::SpanId::INVALID {
        if parent == ancestor.span_context.span_id() {
            return true;
        }
        match spans.iter().find(|s| s.span_context.span_id() == parent) {
            Some(up) => parent = up.parent_span_id,
            None => return false,
        }
    }
    false
}

async fn until<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_execution_is_one_trace_with_genai_attributes() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    logging::init(LogFormat::Text, Some(&provider));

    let Some(app) = spawn_with_agent_and(Db::Sqlite, |settings| {
        // Propagation on: agents get TRACEPARENT (nothing is exported to this address).
        settings.otlp_endpoint = Some("http://127.0.0.1:9".to_owned());
    })
    .await
    else {
        return;
    };
    app.api.as_ref().unwrap().script(Script::new(
        "traced-run",
        vec![
            Reply::bash("echo \"tp=$TRACEPARENT\""),
            Reply::text("Traced."),
        ],
    ));
    let alice = Api::sign_up(&app.url(""), "alice@example.com").await;
    let (status, task) = alice
        .json(
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"name": "Traced", "prompt_template": "traced-run",
                        "sdk_options": {"ask_tools": ["Bash"]}})),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    let (status, execution) = alice
        .json(
            Method::POST,
            &format!("/api/v1/tasks/{}/execute", task["id"].as_str().unwrap()),
            Some(json!({"variables": {}})),
        )
        .await;
    assert_eq!(status, 202, "{execution}");
    let execution = execution["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/task-executions/{execution}");
    let session: String = until("the run has a session", async || {
        let (_, run) = alice.json(Method::GET, &path, None).await;
        run["session_id"].as_str().map(str::to_owned)
    })
    .await;

    // The tool waits for a person: approve it.
    let store = open_store(&Settings {
        data_dir: app.data_dir.clone(),
        ..Settings::default()
    })
    .await
    .unwrap();
    let id = SessionId::from_uuid(session.parse().unwrap());
    let approval = until("an approval is pending", async || {
        let pending = store.repositories().approvals.list_pending(id).await.ok()?;
        pending.first().map(|a| a.id.to_string())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, answer) = alice
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{session}/approvals/{approval}"),
            Some(json!({"decision": "allow"})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let run: Value = until("the run ends", async || {
        let (_, run) = alice.json(Method::GET, &path, None).await;
        (run["status"] != "running" && run["status"] != "pending").then_some(run)
    })
    .await;
    assert_eq!(run["status"], "completed", "{run}");
    let (_, calls) = alice
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{session}/tool-calls"),
            None,
        )
        .await;
    let output = calls["items"][0]["tool_output"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Spans end when their last handle goes: the execution's shortly after the run.
    let spans = until("the execution's span ended", async || {
        let spans = exporter.get_finished_spans().ok()?;
        spans.iter().any(|s| s.name == "execution").then_some(spans)
    })
    .await;
    let execution_span = named(&spans, "execution");
    let trace = execution_span.span_context.trace_id();
    let in_trace: Vec<SpanData> = spans
        .iter()
        .filter(|s| s.span_context.trace_id() == trace)
        .cloned()
        .collect();
    let request = in_trace
        .iter()
        .find(|s| s.name == "request" && descends_from(&in_trace, execution_span, s))
        .expect("the execute request is the root of the run's trace");
    let queue = named(&in_trace, "execution.queue");
    let start = named(&in_trace, "agent.start");
    let turn = named(&in_trace, "gen_ai.turn");
    let tool = named(&in_trace, "tool_call");
    let approval = named(&in_trace, "approval.wait");
    assert!(descends_from(&in_trace, execution_span, request));
    assert!(descends_from(&in_trace, queue, execution_span));
    assert!(descends_from(&in_trace, turn, execution_span));
    assert!(descends_from(&in_trace, start, turn));
    assert!(descends_from(&in_trace, tool, turn));
    assert!(descends_from(&in_trace, approval, tool));

    assert_eq!(
        attribute(turn, "gen_ai.operation.name").unwrap().as_str(),
        "invoke_agent"
    );
    assert!(attribute(turn, "gen_ai.request.model").is_some());
    assert!(attribute(turn, "gen_ai.response.model").is_some());
    let input = attribute(turn, "gen_ai.usage.input_tokens").expect("input tokens");
    assert!(matches!(input, OtelValue::I64(n) if n > 0), "{input:?}");
    assert_eq!(
        attribute(tool, "gen_ai.tool.name").unwrap().as_str(),
        "Bash"
    );
    assert!(attribute(tool, "gen_ai.tool.call.id").is_some());

    // The agent's tool saw the turn's trace context.
    let expected = format!("tp=00-{trace}-");
    assert!(output.contains(&expected), "{output} lacks {expected}");
}
