//! `monitoring`: `check_health` (an HTTP GET: status, latency, a body excerpt) and
//! `get_metrics` (a Prometheus scrape filtered to the series asked for), only against the
//! targets an admin names and the URL prefixes an admin allows. Redirects are not followed,
//! so an allowed URL cannot lead elsewhere.

mod prometheus;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use overseer_ports::agent::{McpTool, McpToolOutput, McpToolServer, ToolServerFactory};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use self::prometheus::{SeriesFilter, select};
use crate::ToolsConfigError;
use crate::http_client::HttpClient;
use crate::tool::{excerpt, known_keys, optional_text, output, refusal, tool};

/// Most of a health check's body shown.
const BODY_EXCERPT_BYTES: usize = 2 * 1024;
/// Most of a response read: a health body or a metrics page.
const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Most series one `get_metrics` returns.
const MAX_SERIES: usize = 200;

/// The `[tools.monitoring]` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringConfig {
    /// Named endpoints the tools may use by name: `overseer = "http://127.0.0.1:8080/health"`.
    pub targets: BTreeMap<String, String>,
    /// URL prefixes a tool may use directly (`https://grafana.internal/api/`); scheme, host
    /// and port must be equal and the path must lie under the prefix's.
    pub allowed_urls: Vec<String>,
    /// How long one request may take, connecting included.
    pub timeout_seconds: u64,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self {
            targets: BTreeMap::new(),
            allowed_urls: Vec::new(),
            timeout_seconds: 5,
        }
    }
}

/// The checked configuration and one HTTP client, shared by every session.
#[derive(Debug)]
pub(crate) struct Monitoring {
    targets: BTreeMap<String, Url>,
    allowed: Vec<Url>,
    client: HttpClient,
}

impl Monitoring {
    /// # Errors
    /// A URL that is not http(s) or carries credentials, or a client that cannot be built.
    pub(crate) fn new(config: &MonitoringConfig) -> Result<Self, ToolsConfigError> {
        let parse = |key: String, url: &str| {
            let parsed = Url::parse(url).map_err(|e| ToolsConfigError::new(&key, e))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(ToolsConfigError::new(&key, "must be an http(s) URL"));
            }
            if !parsed.username().is_empty() || parsed.password().is_some() {
                // It would show in tool answers and the audit.
                return Err(ToolsConfigError::new(&key, "must not hold credentials"));
            }
            Ok(parsed)
        };
        let targets = config
            .targets
            .iter()
            .map(|(name, url)| {
                Ok((
                    name.clone(),
                    parse(format!("monitoring.targets.{name}"), url)?,
                ))
            })
            .collect::<Result<_, ToolsConfigError>>()?;
        let allowed = config
            .allowed_urls
            .iter()
            .map(|url| parse("monitoring.allowed_urls".to_owned(), url))
            .collect::<Result<_, _>>()?;
        let timeout = Duration::from_secs(config.timeout_seconds.max(1));
        let client = HttpClient::new(timeout, MAX_RESPONSE_BYTES)
            .map_err(|e| ToolsConfigError::new("monitoring", e))?;
        Ok(Self {
            targets,
            allowed,
            client,
        })
    }

    /// The URL a tool call names: a target by name, or a URL under an allowed prefix.
    fn resolve(&self, arguments: &Value) -> Result<Url, String> {
        match (
            optional_text(arguments, "target")?,
            optional_text(arguments, "url")?,
        ) {
            (Some(name), None) => self.targets.get(&name).cloned().ok_or_else(|| {
                format!(
                    "no target is named '{name}' (targets: {})",
                    self.target_names()
                )
            }),
            (None, Some(url)) => {
                let parsed = Url::parse(&url).map_err(|e| format!("'{url}' is not a URL: {e}"))?;
                if self.allows(&parsed) {
                    Ok(parsed)
                } else {
                    Err(format!(
                        "{parsed} is not allowed: use a named target ({}) or a URL under an allowed prefix ({})",
                        self.target_names(),
                        self.allowed_prefixes()
                    ))
                }
            }
            (Some(_), Some(_)) => Err("give either 'target' or 'url', not both".to_owned()),
            (None, None) => Err(format!(
                "give 'target' (one of: {}) or 'url'",
                self.target_names()
            )),
        }
    }

    fn allows(&self, url: &Url) -> bool {
        let is_target = self.targets.values().any(|target| target == url);
        is_target || self.allowed.iter().any(|prefix| under(prefix, url))
    }

    fn target_names(&self) -> String {
        list(self.targets.keys().map(String::as_str))
    }

    fn allowed_prefixes(&self) -> String {
        list(self.allowed.iter().map(Url::as_str))
    }

    async fn check_health(&self, arguments: &Value) -> Result<String, String> {
        let url = self.resolve(arguments)?;
        let fetched = self.client.get(&url).await?;
        let mut lines = vec![
            format!(
                "GET {url} → {} in {} ms",
                fetched.status,
                fetched.elapsed.as_millis()
            ),
            format!(
                "healthy: {}",
                if fetched.status.is_success() {
                    "yes"
                } else {
                    "no"
                }
            ),
        ];
        if let Some(content_type) = &fetched.content_type {
            lines.push(format!("content-type: {content_type}"));
        }
        if let Some(location) = &fetched.location {
            lines.push(format!("redirects to (not followed): {location}"));
        }
        lines.push(format!(
            "body: {}",
            excerpt(fetched.body.trim(), BODY_EXCERPT_BYTES)
        ));
        Ok(lines.join("\n"))
    }

    async fn get_metrics(&self, arguments: &Value) -> Result<String, String> {
        let url = self.resolve(arguments)?;
        let filter = SeriesFilter::parse(
            optional_text(arguments, "metric")?,
            optional_text(arguments, "labels")?.as_deref(),
        )?;
        let fetched = self.client.get(&url).await?;
        if !fetched.status.is_success() {
            return Err(format!(
                "GET {url} → {}: {}",
                fetched.status,
                excerpt(fetched.body.trim(), BODY_EXCERPT_BYTES)
            ));
        }
        let (series, unreadable) = select(&fetched.body, &filter);
        let mut out = format!(
            "{} matching series from {url} ({} ms)",
            series.len(),
            fetched.elapsed.as_millis()
        );
        for line in series.iter().take(MAX_SERIES) {
            out.push('\n');
            out.push_str(line);
        }
        if series.len() > MAX_SERIES {
            out.push_str(&format!(
                "\n… {} more; narrow 'metric' or 'labels'",
                series.len() - MAX_SERIES
            ));
        }
        if unreadable > 0 {
            out.push_str(&format!(
                "\n({unreadable} lines were not Prometheus samples)"
            ));
        }
        if fetched.truncated {
            out.push_str(&format!(
                "\n(only the first {MAX_RESPONSE_BYTES} bytes were read)"
            ));
        }
        Ok(out)
    }
}

/// Whether `url` lies under `prefix`: same scheme, host and port, and a path at or below
/// the prefix's (`/api` covers `/api` and `/api/x`, not `/apix`).
fn under(prefix: &Url, url: &Url) -> bool {
    let (base, path) = (prefix.path(), url.path());
    let path_under = path == base
        || (path.starts_with(base) && (base.ends_with('/') || path[base.len()..].starts_with('/')));
    prefix.scheme() == url.scheme()
        && prefix.host_str() == url.host_str()
        && prefix.port_or_known_default() == url.port_or_known_default()
        && path_under
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let joined = items.collect::<Vec<_>>().join(", ");
    if joined.is_empty() {
        "none configured".to_owned()
    } else {
        joined
    }
}

/// The `monitoring` server of one session: the shared configuration, no settings of its own.
#[derive(Debug)]
struct MonitoringServer(Arc<Monitoring>);

#[async_trait]
impl McpToolServer for MonitoringServer {
    fn tools(&self) -> Vec<McpTool> {
        let endpoint = [
            (
                "target",
                "A named target (see the tool's error for the list)",
                false,
            ),
            (
                "url",
                "A URL under an allowed prefix, instead of a target",
                false,
            ),
        ];
        vec![
            tool(
                "check_health",
                "HTTP GET of a health endpoint: status, latency and the start of the body.",
                &endpoint,
            ),
            tool(
                "get_metrics",
                "Scrapes a Prometheus text endpoint and returns the series that match.",
                &[
                    endpoint[0],
                    endpoint[1],
                    ("metric", "A metric name, or a prefix ending in '*'", false),
                    (
                        "labels",
                        "Labels that must match: key=value,key=value",
                        false,
                    ),
                ],
            ),
        ]
    }

    async fn call(&self, tool: &str, arguments: Value) -> McpToolOutput {
        match tool {
            "check_health" => output(self.0.check_health(&arguments).await),
            "get_metrics" => output(self.0.get_metrics(&arguments).await),
            other => refusal(format!("monitoring has no tool '{other}'")),
        }
    }
}

/// Opens the `monitoring` server for sessions.
#[derive(Debug)]
pub(crate) struct MonitoringFactory(pub(crate) Arc<Monitoring>);

impl ToolServerFactory for MonitoringFactory {
    fn check(&self, settings: &Map<String, Value>) -> Result<(), String> {
        known_keys(settings, &[])
    }

    fn open(&self, _settings: &Map<String, Value>) -> Arc<dyn McpToolServer> {
        Arc::new(MonitoringServer(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn monitoring() -> Monitoring {
        Monitoring::new(&MonitoringConfig {
            targets: BTreeMap::from([("api".to_owned(), "http://127.0.0.1:9/health".to_owned())]),
            allowed_urls: vec!["https://metrics.internal/prom".to_owned()],
            timeout_seconds: 1,
        })
        .unwrap()
    }

    #[test]
    fn urls_resolve_only_to_targets_and_allowed_prefixes() {
        let m = monitoring();
        let ok = |args: Value| m.resolve(&args).unwrap().to_string();
        assert_eq!(ok(json!({"target": "api"})), "http://127.0.0.1:9/health");
        assert_eq!(
            ok(json!({"url": "http://127.0.0.1:9/health"})),
            "http://127.0.0.1:9/health",
            "a target's own URL is allowed"
        );
        assert_eq!(
            ok(json!({"url": "https://metrics.internal/prom/x?q=1"})),
            "https://metrics.internal/prom/x?q=1"
        );
        for refused in [
            "http://127.0.0.1:9/admin",
            "https://metrics.internal/promx",
            "https://metrics.internal/prom/../secret",
            "http://metrics.internal/prom/x",
            "https://metrics.internal:8443/prom/x",
            "https://evil.example/prom/x",
            "https://metrics.internal.evil.example/prom/x",
            "file:///etc/passwd",
        ] {
            let err = m.resolve(&json!({ "url": refused })).unwrap_err();
            assert!(
                err.contains("not allowed") || err.contains("not a URL"),
                "{refused}: {err}"
            );
        }
        assert!(
            m.resolve(&json!({"target": "nope"}))
                .unwrap_err()
                .contains("api")
        );
        assert!(m.resolve(&json!({})).is_err());
        assert!(
            m.resolve(&json!({"target": "api", "url": "http://x"}))
                .is_err()
        );
    }

    #[test]
    fn configuration_refuses_other_schemes_and_credentials() {
        for url in ["ftp://host/x", "http://user:pw@host/x", "not a url"] {
            let err = Monitoring::new(&MonitoringConfig {
                allowed_urls: vec![url.to_owned()],
                ..MonitoringConfig::default()
            })
            .unwrap_err();
            assert!(!err.to_string().contains("pw@"), "{err}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_target_is_a_tool_error_not_a_crash() {
        let server = MonitoringServer(Arc::new(monitoring()));
        let out = server.call("check_health", json!({"target": "api"})).await;
        assert!(out.is_error);
        assert!(out.text.contains("cannot connect"), "{}", out.text);
        assert!(server.call("nope", json!({})).await.is_error);
    }
}
