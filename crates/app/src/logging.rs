//! The service's log lines: text for people, JSON for collectors; colour only for a terminal.

use std::io::IsTerminal;

use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Deserialize,
    serde::Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Text, coloured when stdout is a terminal and plain otherwise (a file, a pipe, journald).
    #[default]
    Auto,
    /// Text without colour.
    Text,
    /// One JSON object per line, with the current span and its parents.
    Json,
}

impl LogFormat {
    /// Whether lines carry ANSI colour escapes when written to stdout now.
    #[must_use]
    pub fn colours(self) -> bool {
        self == Self::Auto && std::io::stdout().is_terminal()
    }
}

/// Installs the global subscriber: `RUST_LOG` (default `info`) filters the log lines, written
/// as `format`; with `traces`, the services' spans (at `info` and above, whatever `RUST_LOG`
/// says) also go to that OpenTelemetry provider. Does nothing if a subscriber is already
/// installed (tests).
pub fn init(format: LogFormat, traces: Option<&SdkTracerProvider>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let otel = traces.map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(crate::traces::tracer(provider))
            .with_filter(LevelFilter::INFO)
    });
    let lines: Box<dyn Layer<_> + Send + Sync> = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .boxed(),
        LogFormat::Auto | LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(format.colours())
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(otel)
        .with(lines.with_filter(filter))
        .try_init();
    drop(installed);
}

#[cfg(test)]
mod tests {
    use super::LogFormat;

    #[test]
    fn only_auto_on_a_terminal_colours() {
        assert!(!LogFormat::Text.colours());
        assert!(!LogFormat::Json.colours());
        // The test harness captures stdout: not a terminal.
        assert!(!LogFormat::Auto.colours());
    }
}
