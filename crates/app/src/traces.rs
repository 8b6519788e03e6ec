//! OpenTelemetry traces (off unless `--otlp-endpoint` is set): the services' `tracing` spans
//! exported over OTLP/HTTP by the opentelemetry SDK through tracing-opentelemetry, and each
//! turn's context handed to its agent as `TRACEPARENT`.

use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use overseer_services::TraceParent;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Why the OTLP exporter cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot export traces to {endpoint}: {reason}")]
pub struct TraceExportError {
    endpoint: String,
    reason: String,
}

/// A tracer provider exporting to the OTLP/HTTP collector at `endpoint` (e.g.
/// `http://127.0.0.1:4318`), in batches from a thread of its own.
///
/// # Errors
/// [`TraceExportError`] when the exporter cannot be built (a malformed endpoint).
pub fn otlp_provider(endpoint: &str) -> Result<SdkTracerProvider, TraceExportError> {
    use opentelemetry_otlp::WithExportConfig as _;
    let traces = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(traces)
        .build()
        .map_err(|err| TraceExportError {
            endpoint: endpoint.to_owned(),
            reason: err.to_string(),
        })?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource())
        .build())
}

/// What every span says of its service.
#[must_use]
pub fn resource() -> Resource {
    Resource::builder().with_service_name("overseer").build()
}

/// A span's W3C `traceparent` (`00-<trace id>-<span id>-<flags>`), from the OpenTelemetry
/// context tracing-opentelemetry keeps for it.
#[derive(Clone, Copy, Debug, Default)]
pub struct W3cTraceParent;

impl TraceParent for W3cTraceParent {
    fn traceparent(&self, span: &tracing::Span) -> Option<String> {
        let context = span.context();
        let span = context.span();
        let id = span.span_context();
        id.is_valid().then(|| {
            format!(
                "00-{}-{}-{:02x}",
                id.trace_id(),
                id.span_id(),
                id.trace_flags().to_u8()
            )
        })
    }
}

/// The tracer the layer records with.
#[must_use]
pub fn tracer(provider: &SdkTracerProvider) -> opentelemetry_sdk::trace::Tracer {
    provider.tracer("overseer")
}
