//! A small REST client for the end-to-end tests: JSON requests with a bearer token.

use std::time::Duration;

use reqwest::Response;
pub use reqwest::{Client, Method};
use serde_json::{Value, json};

/// How long the test client keeps an idle connection for reuse: well under the server's
/// keep-alive (actix-web's default, 5 s), so a pooled connection is never picked at the
/// moment the server closes it. reqwest's own default (90 s) let a request that followed a
/// ~5 s pause fail with `IncompleteMessage`.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// Makes ring the process's TLS crypto provider. Call it before building any reqwest client
/// by hand: the `overseer` binary's client builds reqwest with rustls but no provider of its
/// own (ring is the one the workspace already has), and Cargo unifies that feature into every
/// test that links the app, where a client built without a provider panics.
pub fn install_tls_provider() {
    // Already installed (by an earlier call, or by the code under test): nothing to do.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client every test uses: reqwest with [`POOL_IDLE_TIMEOUT`].
pub fn client() -> Client {
    builder().build().expect("a reqwest client builds")
}

/// A builder for a test client: [`POOL_IDLE_TIMEOUT`], the TLS provider installed.
pub fn builder() -> reqwest::ClientBuilder {
    install_tls_provider();
    Client::builder().pool_idle_timeout(POOL_IDLE_TIMEOUT)
}

#[derive(Debug)]
pub struct Api {
    pub base: String,
    pub client: Client,
    pub token: Option<String>,
}

impl Api {
    /// GETs `path` until its JSON body satisfies `done` (and the status is 200); that body.
    ///
    /// # Panics
    /// When `within` passes first.
    pub async fn poll(&self, path: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + within;
        loop {
            let (status, body) = self.json(Method::GET, path, None).await;
            if status == 200 && done(&body) {
                return body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{path} never got there: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn new(base: String) -> Self {
        Self {
            base,
            client: client(),
            token: None,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn json(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let response = self.call(method, path, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Sends `text` to `session` (panics unless it is accepted).
    pub async fn send_message(&self, session: &str, text: &str) {
        let (status, body) = self
            .json(
                Method::POST,
                &format!("/api/v1/sessions/{session}/messages"),
                Some(json!({"content": text})),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }

    /// Creates the task `task`, runs it with no variables and returns the execution once it
    /// has ended (within 90 s).
    pub async fn run_task(&self, task: Value) -> Value {
        let (status, created) = self.json(Method::POST, "/api/v1/tasks", Some(task)).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap_or_default();
        let (status, queued) = self
            .json(
                Method::POST,
                &format!("/api/v1/tasks/{id}/execute"),
                Some(json!({"variables": {}})),
            )
            .await;
        assert_eq!(status, 202, "{queued}");
        let execution = queued["id"].as_str().unwrap_or_default();
        let mut request = self
            .client
            .get(format!("{}/api/v1/task-executions/{execution}", self.base))
            .header("prefer", "wait=90");
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    /// Registers and logs in `email`, keeping its access token.
    pub async fn sign_up(base: &str, email: &str) -> Self {
        let mut api = Self::new(base.to_owned());
        let credentials = json!({"email": email, "password": "correct horse battery"});
        let (status, body) = api
            .json(
                Method::POST,
                "/api/v1/auth/register",
                Some(credentials.clone()),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = api
            .json(Method::POST, "/api/v1/auth/login", Some(credentials))
            .await;
        assert_eq!(status, 200, "{body}");
        api.token = Some(body["access_token"].as_str().unwrap().to_owned());
        api
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_connections_expire_well_before_the_server_closes_them() {
        // The server keeps actix-web's default keep-alive; a client that reuses a connection
        // idle for about as long races the server's close.
        let actix_web::http::KeepAlive::Timeout(server) = actix_web::http::KeepAlive::default()
        else {
            panic!("actix-web's default keep-alive is a timeout");
        };
        assert!(
            POOL_IDLE_TIMEOUT * 2 <= server,
            "{POOL_IDLE_TIMEOUT:?} vs {server:?}"
        );
    }
}
