//! The HTTP client the tools use: hyper's, which kube already brings, over rustls with the
//! ring provider and the platform's roots. Set up explicitly, so nothing depends on a
//! process-wide TLS default, and redirects are never followed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_platform_verifier::BuilderVerifierExt;

/// A GET-only client with a time limit per request and a cap on the body it reads.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    timeout: Duration,
    max_body: usize,
}

/// One response, its body read up to the cap.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub status: StatusCode,
    pub elapsed: Duration,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: String,
    pub truncated: bool,
}

impl HttpClient {
    /// # Errors
    /// When the platform's certificate verifier cannot be set up.
    pub(crate) fn new(timeout: Duration, max_body: usize) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_platform_verifier()?
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
            max_body,
        })
    }

    /// GETs `url`, all of it (connecting, headers, body) within the timeout.
    ///
    /// # Errors
    /// Why there is no response, in words.
    pub(crate) async fn get(&self, url: &url::Url) -> Result<Fetched, String> {
        match tokio::time::timeout(self.timeout, self.fetch(url)).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "GET {url} timed out after {} s",
                self.timeout.as_secs()
            )),
        }
    }

    async fn fetch(&self, url: &url::Url) -> Result<Fetched, String> {
        let started = Instant::now();
        let request = Request::get(url.as_str())
            .header(
                "user-agent",
                concat!("overseer-tools/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::new())
            .map_err(|e| format!("GET {url}: {e}"))?;
        let response = self.client.request(request).await.map_err(|e| {
            if e.is_connect() {
                format!("GET {url} failed: cannot connect")
            } else {
                format!("GET {url} failed: {e}")
            }
        })?;
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &hyper::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = response.status();
        let content_type = header(hyper::header::CONTENT_TYPE);
        let location = header(hyper::header::LOCATION);
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        let mut truncated = false;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("GET {url}: reading the body failed: {e}"))?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            let room = self.max_body - bytes.len();
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if chunk.len() > room {
                truncated = true;
                break;
            }
        }
        Ok(Fetched {
            status,
            elapsed: started.elapsed(),
            content_type,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            truncated,
        })
    }
}
