//! Prometheus metrics: the telemetry the services report, HTTP requests by route and status,
//! and gauges read when `/metrics` is scraped.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, get, web};
use overseer_domain::{ExecutionStatus, PermissionDecision, ToolCallStatus};
use overseer_ports::Telemetry;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::HttpState;

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn seconds_histogram() -> Histogram {
    // 10 ms … about 5.5 min: tool calls and permission waits (approvals can be minutes).
    Histogram::new(exponential_buckets(0.01, 2.0, 16))
}

/// The service's metrics. Cheap to clone: every metric is shared.
#[derive(Clone)]
pub struct PrometheusTelemetry {
    registry: Arc<Mutex<Registry>>,
    http_requests: Family<Labels, Counter>,
    executions: Family<Labels, Counter>,
    tool_calls: Family<Labels, Histogram, fn() -> Histogram>,
    permission_wait: Family<Labels, Histogram, fn() -> Histogram>,
    live_agents: Gauge,
    queue_depth: Gauge,
}

impl std::fmt::Debug for PrometheusTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusTelemetry")
            .finish_non_exhaustive()
    }
}

impl Default for PrometheusTelemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl PrometheusTelemetry {
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("overseer");
        let http_requests = Family::<Labels, Counter>::default();
        let executions = Family::<Labels, Counter>::default();
        let tool_calls =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(seconds_histogram);
        let permission_wait =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(seconds_histogram);
        let live_agents = Gauge::default();
        let queue_depth = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        registry.register(
            "executions",
            "Executions that ended, by status",
            executions.clone(),
        );
        registry.register(
            "tool_call_duration_seconds",
            "Tool call duration by tool and status",
            tool_calls.clone(),
        );
        registry.register(
            "permission_wait_seconds",
            "Time to decide a tool permission",
            permission_wait.clone(),
        );
        registry.register("live_agents", "Live agent processes", live_agents.clone());
        registry.register(
            "queue_depth",
            "Executions waiting to run",
            queue_depth.clone(),
        );
        Self {
            registry: Arc::new(Mutex::new(registry)),
            http_requests,
            executions,
            tool_calls,
            permission_wait,
            live_agents,
            queue_depth,
        }
    }

    /// The text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        if encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Telemetry for PrometheusTelemetry {
    fn execution_finished(&self, status: ExecutionStatus) {
        self.executions
            .get_or_create(&labels(&[("status", status.as_str())]))
            .inc();
    }

    fn tool_call_finished(&self, tool: &str, status: ToolCallStatus, duration: Duration) {
        // MCP tools are named per server; keep the label set bounded by cutting the tool part.
        let tool = tool.rsplit_once("__").map_or(tool, |(server, _)| server);
        self.tool_calls
            .get_or_create(&labels(&[("tool", tool), ("status", status.as_str())]))
            .observe(duration.as_secs_f64());
    }

    fn permission_decided(&self, decision: PermissionDecision, waited: Duration) {
        self.permission_wait
            .get_or_create(&labels(&[("decision", decision.as_str())]))
            .observe(waited.as_secs_f64());
    }
}

/// Counts every request by its route pattern (not its path: ids would explode the labels).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let telemetry = req.app_data::<web::Data<PrometheusTelemetry>>().cloned();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let response = next.call(req).await?;
    if let Some(telemetry) = telemetry {
        let status = response.status().as_u16().to_string();
        telemetry
            .http_requests
            .get_or_create(&labels(&[
                ("route", &route),
                ("method", &method),
                ("status", &status),
            ]))
            .inc();
    }
    Ok(response)
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text exposition")))]
#[get("/metrics")]
pub(crate) async fn metrics(
    telemetry: web::Data<PrometheusTelemetry>,
    state: web::Data<HttpState>,
) -> HttpResponse {
    telemetry
        .live_agents
        .set(i64::try_from(state.services.pool.live_count()).unwrap_or(i64::MAX));
    if let Ok(depth) = state.services.tasks.queue_depth().await {
        telemetry
            .queue_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(telemetry.render())
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(metrics);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_telemetry_shows_in_the_exposition() {
        let telemetry = PrometheusTelemetry::new();
        telemetry.execution_finished(ExecutionStatus::Completed);
        telemetry.tool_call_finished(
            "mcp__k8s__get_pods",
            ToolCallStatus::Completed,
            Duration::from_millis(120),
        );
        telemetry.permission_decided(PermissionDecision::Denied, Duration::from_millis(3));
        let text = telemetry.render();
        assert!(
            text.contains("overseer_executions_total{status=\"completed\"} 1"),
            "{text}"
        );
        assert!(text.contains("overseer_tool_call_duration_seconds_count{tool=\"mcp__k8s\",status=\"completed\"} 1"), "{text}");
        assert!(
            text.contains("overseer_permission_wait_seconds_count{decision=\"denied\"} 1"),
            "{text}"
        );
    }
}
