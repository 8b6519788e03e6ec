//! Prometheus metrics: the telemetry the services report, HTTP requests by route and status,
//! and gauges read when `/metrics` is scraped.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, get, web};
use overseer_domain::{ExecutionStatus, PermissionDecision, ToolCallStatus};
use overseer_ports::{ApprovalResult, Hibernation, Telemetry};
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
    // 10 ms … about 5.5 min: tool calls, turns, agent starts, approval waits.
    Histogram::new(exponential_buckets(0.01, 2.0, 16))
}

fn long_histogram() -> Histogram {
    // 100 ms … about 55 min: executions and their time in the queue.
    Histogram::new(exponential_buckets(0.1, 2.0, 16))
}

fn fast_histogram() -> Histogram {
    // 0.5 ms … about 16 s: HTTP requests.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

type Histograms = Family<Labels, Histogram, fn() -> Histogram>;
type Counters = Family<Labels, Counter>;
type FloatCounters = Family<Labels, Counter<f64, std::sync::atomic::AtomicU64>>;
type Gauges = Family<Labels, Gauge>;

/// The service's metrics. Cheap to clone: every metric is shared.
#[derive(Clone)]
pub struct PrometheusTelemetry {
    registry: Arc<Mutex<Registry>>,
    http_requests: Counters,
    http_duration: Histograms,
    executions: Counters,
    execution_duration: Histograms,
    queue_wait: Histogram,
    agent_start: Histograms,
    agent_hibernations: Counters,
    agent_resumes: Counter,
    turn_duration: Histograms,
    tokens: Counters,
    cost: FloatCounters,
    tool_calls: Counters,
    tool_duration: Histograms,
    permission_wait: Histograms,
    approvals: Counters,
    approval_wait: Histograms,
    sessions: Gauges,
    agents: Gauges,
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

/// Registers metrics in one registry, each under its name and help text.
struct Registrar(Registry);

impl Registrar {
    fn add<M: prometheus_client::registry::Metric + Clone>(
        &mut self,
        name: &str,
        help: &str,
        metric: M,
    ) -> M {
        self.0.register(name, help, metric.clone());
        metric
    }
}

impl PrometheusTelemetry {
    #[must_use]
    pub fn new() -> Self {
        let mut r = Registrar(Registry::with_prefix("overseer"));
        let histograms = |make: fn() -> Histogram| Histograms::new_with_constructor(make);
        Self {
            http_requests: r.add(
                "http_requests",
                "HTTP requests by route, method and status",
                Counters::default(),
            ),
            http_duration: r.add(
                "http_request_duration_seconds",
                "HTTP request latency by route and method",
                histograms(fast_histogram),
            ),
            executions: r.add(
                "executions",
                "Executions that ended, by status",
                Counters::default(),
            ),
            execution_duration: r.add(
                "execution_duration_seconds",
                "Time an execution ran (started → ended), by status",
                histograms(long_histogram),
            ),
            queue_wait: r.add(
                "queue_wait_seconds",
                "Time an execution waited in the queue before it was claimed",
                long_histogram(),
            ),
            agent_start: r.add(
                "agent_start_seconds",
                "Time to start an agent process until it is ready, by resumed (true/false)",
                histograms(seconds_histogram),
            ),
            agent_hibernations: r.add(
                "agent_hibernations",
                "Agents closed with their session kept resumable, by reason",
                Counters::default(),
            ),
            agent_resumes: r.add(
                "agent_resumes",
                "Agents started to continue a conversation (--resume)",
                Counter::default(),
            ),
            turn_duration: r.add(
                "turn_duration_seconds",
                "Turn duration (message → result, agent start included), by outcome",
                histograms(seconds_histogram),
            ),
            tokens: r.add(
                "tokens",
                "Tokens used, by model and kind (input/output)",
                Counters::default(),
            ),
            cost: r.add(
                "cost_usd",
                "Agent cost in USD, by model",
                FloatCounters::default(),
            ),
            tool_calls: r.add(
                "tool_calls",
                "Tool calls that ended, by tool and status",
                Counters::default(),
            ),
            tool_duration: r.add(
                "tool_call_duration_seconds",
                "Tool call duration by tool and status",
                histograms(seconds_histogram),
            ),
            permission_wait: r.add(
                "permission_wait_seconds",
                "Time to decide a tool permission",
                histograms(seconds_histogram),
            ),
            approvals: r.add(
                "approvals",
                "Approvals asked of a person, by result",
                Counters::default(),
            ),
            approval_wait: r.add(
                "approval_wait_seconds",
                "Time a tool waited for a person's approval, by result",
                histograms(seconds_histogram),
            ),
            sessions: r.add(
                "sessions",
                "Sessions by status (read when scraped)",
                Gauges::default(),
            ),
            agents: r.add(
                "agents",
                "Agent processes of this node by state (busy, idle, warm) and starts waiting (waiting)",
                Gauges::default(),
            ),
            live_agents: r.add("live_agents", "Live agent processes", Gauge::default()),
            queue_depth: r.add(
                "queue_depth",
                "Executions waiting to run",
                Gauge::default(),
            ),
            registry: Arc::new(Mutex::new(r.0)),
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

/// MCP tools are named per server: keep the label set bounded by cutting the tool part.
fn tool_label(tool: &str) -> &str {
    tool.rsplit_once("__").map_or(tool, |(server, _)| server)
}

impl Telemetry for PrometheusTelemetry {
    fn execution_finished(&self, status: ExecutionStatus, ran: Option<Duration>) {
        let status = labels(&[("status", status.as_str())]);
        self.executions.get_or_create(&status).inc();
        if let Some(ran) = ran {
            self.execution_duration
                .get_or_create(&status)
                .observe(ran.as_secs_f64());
        }
    }

    fn execution_started(&self, queued: Duration) {
        self.queue_wait.observe(queued.as_secs_f64());
    }

    fn agent_started(&self, took: Duration, resumed: bool) {
        self.agent_start
            .get_or_create(&labels(&[(
                "resumed",
                if resumed { "true" } else { "false" },
            )]))
            .observe(took.as_secs_f64());
        if resumed {
            self.agent_resumes.inc();
        }
    }

    fn agent_hibernated(&self, why: Hibernation) {
        self.agent_hibernations
            .get_or_create(&labels(&[("reason", why.as_str())]))
            .inc();
    }

    fn turn_finished(&self, took: Duration, is_error: bool) {
        let outcome = if is_error { "error" } else { "success" };
        self.turn_duration
            .get_or_create(&labels(&[("outcome", outcome)]))
            .observe(took.as_secs_f64());
    }

    fn tokens_used(&self, model: &str, input: u64, output: u64, cost_usd: f64) {
        self.tokens
            .get_or_create(&labels(&[("model", model), ("kind", "input")]))
            .inc_by(input);
        self.tokens
            .get_or_create(&labels(&[("model", model), ("kind", "output")]))
            .inc_by(output);
        if cost_usd > 0.0 {
            self.cost
                .get_or_create(&labels(&[("model", model)]))
                .inc_by(cost_usd);
        }
    }

    fn tool_call_finished(&self, tool: &str, status: ToolCallStatus, duration: Duration) {
        let labels = labels(&[("tool", tool_label(tool)), ("status", status.as_str())]);
        self.tool_calls.get_or_create(&labels).inc();
        self.tool_duration
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
    }

    fn permission_decided(&self, decision: PermissionDecision, waited: Duration) {
        self.permission_wait
            .get_or_create(&labels(&[("decision", decision.as_str())]))
            .observe(waited.as_secs_f64());
    }

    fn approval_decided(&self, result: ApprovalResult, waited: Duration) {
        let labels = labels(&[("result", result.as_str())]);
        self.approvals.get_or_create(&labels).inc();
        self.approval_wait
            .get_or_create(&labels)
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
    let began = std::time::Instant::now();
    let response = next.call(req).await?;
    if let Some(telemetry) = telemetry {
        telemetry
            .http_duration
            .get_or_create(&labels(&[("route", &route), ("method", &method)]))
            .observe(began.elapsed().as_secs_f64());
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
    let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    telemetry
        .live_agents
        .set(gauge(state.services.pool.live_count()));
    let (busy, idle, waiting) = state.services.pool.agent_counts();
    for (agent_state, count) in [
        ("busy", busy),
        ("idle", idle),
        ("waiting", waiting),
        ("warm", state.services.warm.ready_count()),
    ] {
        telemetry
            .agents
            .get_or_create(&labels(&[("state", agent_state)]))
            .set(gauge(count));
    }
    if let Ok(counts) = state.services.sessions.count_by_status().await {
        for (status, count) in counts {
            telemetry
                .sessions
                .get_or_create(&labels(&[("status", status.as_str())]))
                .set(gauge(count));
        }
    }
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
        telemetry.execution_finished(ExecutionStatus::Completed, Some(Duration::from_secs(3)));
        telemetry.execution_started(Duration::from_millis(40));
        telemetry.agent_started(Duration::from_millis(350), true);
        telemetry.agent_hibernated(Hibernation::IdleTimeout);
        telemetry.turn_finished(Duration::from_secs(2), false);
        telemetry.tokens_used("claude-sonnet", 120, 30, 0.25);
        telemetry.approval_decided(ApprovalResult::Approved, Duration::from_secs(4));
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
        for expected in [
            "overseer_execution_duration_seconds_count{status=\"completed\"} 1",
            "overseer_queue_wait_seconds_count 1",
            "overseer_agent_start_seconds_count{resumed=\"true\"} 1",
            "overseer_agent_resumes_total 1",
            "overseer_agent_hibernations_total{reason=\"idle_timeout\"} 1",
            "overseer_turn_duration_seconds_count{outcome=\"success\"} 1",
            "overseer_tokens_total{model=\"claude-sonnet\",kind=\"input\"} 120",
            "overseer_cost_usd_total{model=\"claude-sonnet\"} 0.25",
            "overseer_tool_calls_total{tool=\"mcp__k8s\",status=\"completed\"} 1",
            "overseer_approvals_total{result=\"approved\"} 1",
            "overseer_approval_wait_seconds_count{result=\"approved\"} 1",
        ] {
            assert!(text.contains(expected), "{expected} missing: {text}");
        }
    }

    #[test]
    fn every_series_the_grafana_dashboard_queries_exists() {
        let telemetry = PrometheusTelemetry::new();
        telemetry.execution_finished(ExecutionStatus::Failed, Some(Duration::from_secs(1)));
        telemetry.execution_started(Duration::ZERO);
        telemetry.agent_started(Duration::ZERO, true);
        telemetry.agent_hibernated(Hibernation::ForAnotherSession);
        telemetry.turn_finished(Duration::ZERO, true);
        telemetry.tokens_used("m", 1, 1, 0.1);
        telemetry.tool_call_finished("Bash", ToolCallStatus::Failed, Duration::ZERO);
        telemetry.permission_decided(PermissionDecision::Allowed, Duration::ZERO);
        telemetry.approval_decided(ApprovalResult::Expired, Duration::ZERO);
        telemetry.http_requests.get_or_create(&Vec::new()).inc();
        telemetry
            .http_duration
            .get_or_create(&Vec::new())
            .observe(0.1);
        telemetry.sessions.get_or_create(&Vec::new()).set(1);
        telemetry.agents.get_or_create(&Vec::new()).set(1);
        let text = telemetry.render();
        let dashboard = include_str!("../../../docs/grafana-dashboard.json");
        let mut names: Vec<&str> = dashboard
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| word.starts_with("overseer_"))
            .collect();
        names.sort_unstable();
        names.dedup();
        assert!(names.len() >= 12, "{names:?}");
        for name in names {
            assert!(
                text.lines().any(|line| line.starts_with(name)),
                "the dashboard queries {name}, which /metrics does not have"
            );
        }
    }
}
