//! `kubernetes_readonly`: `get_namespaces`, `get_pods` and `get_deployments`, read with kube-rs
//! from the cluster a kubeconfig names. The kubeconfig is the service's (`[tools.kubernetes]`)
//! or one a task chooses under the roots an admin allows; its context, cluster URL, CA data,
//! token or client certificate are honoured as kubectl would. Only list (GET) requests exist
//! in this module.

mod summary;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{ListParams, ObjectList};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use overseer_ports::agent::{McpTool, McpToolOutput, McpToolServer, ToolServerFactory};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ToolsConfigError;
use crate::tool::{known_keys, optional_text, output, refusal, required_text, tool};

const SETTINGS: &[&str] = &["kubeconfig", "context"];

/// The `[tools.kubernetes]` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesConfig {
    /// The kubeconfig of tasks that choose none.
    pub kubeconfig: Option<PathBuf>,
    /// Directories under which a task may choose its own kubeconfig (`{"kubeconfig": …}`).
    pub kubeconfig_roots: Vec<PathBuf>,
    /// How long one request to the API server may take.
    pub timeout_seconds: u64,
    /// Most objects one listing returns.
    pub max_items: u32,
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            kubeconfig_roots: Vec::new(),
            timeout_seconds: 10,
            max_items: 500,
        }
    }
}

/// What a session's server reads with.
#[derive(Clone, Debug)]
struct Target {
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    timeout: Duration,
    max_items: u32,
}

impl Target {
    /// A client for the target's cluster, read afresh so an edited kubeconfig applies.
    async fn client(&self) -> Result<Client, String> {
        let path = self
            .kubeconfig
            .as_ref()
            .ok_or("no kubeconfig: the service configures none and the task chose none")?;
        let kubeconfig = Kubeconfig::read_from(path)
            .map_err(|e| format!("cannot read the kubeconfig {}: {e}", path.display()))?;
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..KubeConfigOptions::default()
        };
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| format!("cannot use the kubeconfig {}: {e}", path.display()))?;
        config.connect_timeout = Some(self.timeout);
        config.read_timeout = Some(self.timeout);
        config.write_timeout = Some(self.timeout);
        Client::try_from(config).map_err(|e| format!("cannot set up the cluster client: {e}"))
    }

    /// Lists `api` (a GET, as every request here), within the timeout and the item cap.
    async fn list<K>(
        &self,
        api: &Api<K>,
        label_selector: Option<&str>,
    ) -> Result<ObjectList<K>, String>
    where
        K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let mut params = ListParams::default().limit(self.max_items);
        if let Some(selector) = label_selector {
            params = params.labels(selector);
        }
        match tokio::time::timeout(self.timeout + Duration::from_secs(1), api.list(&params)).await {
            Ok(Ok(list)) => Ok(list),
            Ok(Err(kube::Error::Api(status))) => Err(format!(
                "the API server answered {} {}: {}",
                status.code, status.reason, status.message
            )),
            Ok(Err(other)) => Err(format!(
                "the API server cannot be reached: {}",
                with_causes(&other)
            )),
            Err(_) => Err(format!(
                "the API server did not answer within {} s",
                self.timeout.as_secs()
            )),
        }
    }

    async fn get_namespaces(&self) -> Result<String, String> {
        let api: Api<Namespace> = Api::all(self.client().await?);
        let list = self.list(&api, None).await?;
        Ok(listing(
            &list,
            "namespaces",
            summary::namespaces(&list.items, now()),
        ))
    }

    async fn get_pods(&self, arguments: &Value) -> Result<String, String> {
        let namespace = namespace(arguments)?;
        let selector = optional_text(arguments, "label_selector")?;
        let api: Api<Pod> = Api::namespaced(self.client().await?, &namespace);
        let list = self.list(&api, selector.as_deref()).await?;
        let what = match &selector {
            Some(selector) => format!("pods in {namespace} matching {selector}"),
            None => format!("pods in {namespace}"),
        };
        Ok(listing(&list, &what, summary::pods(&list.items, now())))
    }

    async fn get_deployments(&self, arguments: &Value) -> Result<String, String> {
        let namespace = namespace(arguments)?;
        let api: Api<Deployment> = Api::namespaced(self.client().await?, &namespace);
        let list = self.list(&api, None).await?;
        Ok(listing(
            &list,
            &format!("deployments in {namespace}"),
            summary::deployments(&list.items, now()),
        ))
    }
}

/// `3 pods in production:` then the table; says so when the cap cut the list.
fn listing<K>(list: &ObjectList<K>, what: &str, table: String) -> String
where
    K: Clone,
{
    let count = list.items.len();
    if count == 0 {
        return format!("no {what}");
    }
    let more = list
        .metadata
        .continue_
        .as_deref()
        .is_some_and(|token| !token.is_empty());
    let cut = if more {
        " (more exist; the list was cut)"
    } else {
        ""
    };
    format!("{count} {what}{cut}:\n{table}")
}

/// An error and its causes (kube's own message hides why a connection failed, e.g. a
/// certificate the kubeconfig's CA does not vouch for).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let message = inner.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = inner.source();
    }
    text
}

/// A namespace argument: a DNS label, so it cannot reshape the request path.
fn namespace(arguments: &Value) -> Result<String, String> {
    let namespace = required_text(arguments, "namespace")?;
    let valid = namespace.len() <= 63
        && namespace
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(namespace)
    } else {
        Err(format!("'{namespace}' is not a namespace name"))
    }
}

fn now() -> summary::UnixSeconds {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The `kubernetes_readonly` server of one session.
#[derive(Debug)]
struct KubernetesServer(Target);

#[async_trait]
impl McpToolServer for KubernetesServer {
    fn tools(&self) -> Vec<McpTool> {
        let namespace = ("namespace", "The namespace, e.g. production", true);
        vec![
            tool(
                "get_namespaces",
                "Lists the cluster's namespaces with their status and age.",
                &[],
            ),
            tool(
                "get_pods",
                "Lists the pods of a namespace: ready containers, status, restarts, age.",
                &[
                    namespace,
                    (
                        "label_selector",
                        "Only pods matching it, e.g. app=api",
                        false,
                    ),
                ],
            ),
            tool(
                "get_deployments",
                "Lists the deployments of a namespace: ready, up-to-date and available replicas, age.",
                &[namespace],
            ),
        ]
    }

    async fn call(&self, tool: &str, arguments: Value) -> McpToolOutput {
        match tool {
            "get_namespaces" => output(self.0.get_namespaces().await),
            "get_pods" => output(self.0.get_pods(&arguments).await),
            "get_deployments" => output(self.0.get_deployments(&arguments).await),
            other => refusal(format!("kubernetes_readonly has no tool '{other}'")),
        }
    }
}

/// Opens the `kubernetes_readonly` server for sessions.
#[derive(Debug)]
pub(crate) struct KubernetesFactory(KubernetesConfig);

impl KubernetesFactory {
    pub(crate) fn new(config: &KubernetesConfig) -> Result<Self, ToolsConfigError> {
        for root in &config.kubeconfig_roots {
            if !is_plain_absolute(root) {
                return Err(ToolsConfigError::new(
                    "kubernetes.kubeconfig_roots",
                    format!("'{}' must be an absolute path without '..'", root.display()),
                ));
            }
        }
        Ok(Self(config.clone()))
    }

    fn settings(
        settings: &Map<String, Value>,
    ) -> Result<(Option<PathBuf>, Option<String>), String> {
        known_keys(settings, SETTINGS)?;
        let settings = Value::Object(settings.clone());
        let kubeconfig = optional_text(&settings, "kubeconfig")?.map(PathBuf::from);
        let context = optional_text(&settings, "context")?;
        Ok((kubeconfig, context))
    }
}

impl ToolServerFactory for KubernetesFactory {
    fn check(&self, settings: &Map<String, Value>) -> Result<(), String> {
        let (kubeconfig, context) = Self::settings(settings)?;
        if context.is_some_and(|c| c.len() > 253 || c.chars().any(char::is_control)) {
            return Err("'context' is not a context name".to_owned());
        }
        let Some(kubeconfig) = kubeconfig else {
            return Ok(());
        };
        let inside = is_plain_absolute(&kubeconfig)
            && self
                .0
                .kubeconfig_roots
                .iter()
                .any(|root| kubeconfig.starts_with(root));
        if inside {
            return Ok(());
        }
        let roots: Vec<String> = self
            .0
            .kubeconfig_roots
            .iter()
            .map(|r| r.display().to_string())
            .collect();
        Err(if roots.is_empty() {
            format!(
                "'{}': this service lets no task choose its kubeconfig",
                kubeconfig.display()
            )
        } else {
            format!(
                "'{}' is not an absolute path under the allowed roots ({})",
                kubeconfig.display(),
                roots.join(", ")
            )
        })
    }

    fn open(&self, settings: &Map<String, Value>) -> Arc<dyn McpToolServer> {
        // Saved settings passed `check`; a session whose settings no longer read uses the
        // service's kubeconfig and context.
        let (kubeconfig, context) = Self::settings(settings).unwrap_or_default();
        Arc::new(KubernetesServer(Target {
            kubeconfig: kubeconfig.or_else(|| self.0.kubeconfig.clone()),
            context,
            timeout: Duration::from_secs(self.0.timeout_seconds.max(1)),
            max_items: self.0.max_items.max(1),
        }))
    }
}

/// Absolute, with no `.` or `..`: a prefix check on it means what it says.
fn is_plain_absolute(path: &Path) -> bool {
    path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
}

#[cfg(test)]
mod tests;
