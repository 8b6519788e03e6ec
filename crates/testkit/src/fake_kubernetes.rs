//! A fake Kubernetes API server on 127.0.0.1 (random port): namespaces, pods and deployments
//! from a fixture, bearer-token auth, and a record of every request it receives, whatever its
//! method or path, so a test can prove what a client sent. [`FakeKubernetes::start_tls`]
//! serves it over TLS with a certificate from a test CA (`fixtures/kubernetes-tls`);
//! [`FakeKubernetes::start_mtls`] also asks clients for a certificate from that CA instead
//! of a token.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// The token the fake accepts; the kubeconfig's `fake` context carries it.
pub const TOKEN: &str = "fake-cluster-token-4f1c";

/// One request as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeRequest {
    pub method: String,
    pub path: String,
    pub query: String,
}

/// A running fake API server. Stops when dropped.
#[derive(Debug)]
pub struct FakeKubernetes {
    address: SocketAddr,
    requests: Arc<Mutex<Vec<KubeRequest>>>,
    handle: ServerHandle,
    /// The TLS front, when there is one: its address and the task accepting on it.
    tls: Option<(SocketAddr, tokio::task::JoinHandle<()>)>,
}

/// The test CA that signed the TLS front's certificate (PEM).
pub const TEST_CA_PEM: &str = include_str!("../fixtures/kubernetes-tls/ca.pem");
const SERVER_CERT_PEM: &str = include_str!("../fixtures/kubernetes-tls/server.pem");
const SERVER_KEY_PEM: &str = include_str!("../fixtures/kubernetes-tls/server-key.pem");
const CLIENT_CERT_PEM: &str = include_str!("../fixtures/kubernetes-tls/client.pem");
const CLIENT_KEY_PEM: &str = include_str!("../fixtures/kubernetes-tls/client-key.pem");

/// Who may read the fake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Credential {
    /// A request bearing [`TOKEN`].
    Token,
    /// Any request: the TLS front already required a client certificate from the test CA.
    ClientCertificate,
}

impl FakeKubernetes {
    /// Starts the server with [`fixture`] on a free loopback port.
    pub async fn start() -> Self {
        Self::start_with(Credential::Token)
    }

    fn start_with(credential: Credential) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake Kubernetes");
        let address = listener.local_addr().expect("fake Kubernetes address");
        let shared = web::Data::new((requests.clone(), Arc::new(fixture()), credential));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(serve))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen fake Kubernetes")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            address,
            requests,
            handle,
            tls: None,
        }
    }

    /// [`FakeKubernetes::start`] behind TLS: [`FakeKubernetes::url`] is `https://…`, with a
    /// certificate for 127.0.0.1 signed by [`TEST_CA_PEM`]. Each TLS connection is ended here
    /// and relayed to the plain server, which records and answers as before.
    pub async fn start_tls() -> Self {
        Self::behind_tls(Self::start_with(Credential::Token), false)
    }

    /// [`FakeKubernetes::start_tls`] where the credential is a client certificate: the
    /// handshake requires one signed by [`TEST_CA_PEM`], and requests need no token.
    pub async fn start_mtls() -> Self {
        Self::behind_tls(Self::start_with(Credential::ClientCertificate), true)
    }

    fn behind_tls(mut fake: Self, client_certificates: bool) -> Self {
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use tokio_rustls::rustls::server::WebPkiClientVerifier;
        use tokio_rustls::rustls::{RootCertStore, ServerConfig};
        let pem_certs = |pem: &str| {
            CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
        };
        let key = PrivateKeyDer::from_pem_slice(SERVER_KEY_PEM.as_bytes()).unwrap();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if client_certificates {
            let mut roots = RootCertStore::empty();
            for ca in pem_certs(TEST_CA_PEM) {
                roots.add(ca).unwrap();
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder
            .with_single_cert(pem_certs(SERVER_CERT_PEM), key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let front = listener.local_addr().unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let plain = fake.address;
        let accepting = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: nothing to relay.
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    if let Ok(mut backend) = tokio::net::TcpStream::connect(plain).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut backend).await;
                    }
                });
            }
        });
        fake.tls = Some((front, accepting));
        fake
    }

    #[must_use]
    pub fn url(&self) -> String {
        match &self.tls {
            Some((front, _)) => format!("https://{front}"),
            None => format!("http://{}", self.address),
        }
    }

    /// Where the plain (non-TLS) server listens, for probes sent by hand.
    #[must_use]
    pub fn plain_address(&self) -> SocketAddr {
        self.address
    }

    /// Every request received, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<KubeRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// Writes a kubeconfig for this server into `dir` and returns its path. Its current
    /// context is `fake` (the right token); `wrong-token` is a context whose token the server
    /// refuses, and `nowhere` points at a closed port. Behind TLS, the `fake` cluster carries
    /// the test CA as `certificate-authority-data`, and the context `untrusted` reaches the
    /// same server without it. The context `client-cert` presents the test client certificate
    /// instead of a token.
    #[must_use]
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        use base64::Engine as _;
        let base64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
        let (client_cert, client_key) = (base64(CLIENT_CERT_PEM), base64(CLIENT_KEY_PEM));
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join("kubeconfig.yaml");
        let url = self.url();
        let ca = if self.tls.is_some() {
            format!("\n    certificate-authority-data: {}", base64(TEST_CA_PEM))
        } else {
            String::new()
        };
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1
kind: Config
current-context: fake
clusters:
- name: fake
  cluster:
    server: {url}{ca}
- name: plain-trust
  cluster:
    server: {url}
- name: nowhere
  cluster:
    server: http://127.0.0.1:1
users:
- name: reader
  user:
    token: {TOKEN}
- name: stranger
  user:
    token: not-the-token
- name: cert-holder
  user:
    client-certificate-data: {client_cert}
    client-key-data: {client_key}
contexts:
- name: fake
  context: {{cluster: fake, user: reader, namespace: default}}
- name: wrong-token
  context: {{cluster: fake, user: stranger}}
- name: nowhere
  context: {{cluster: nowhere, user: reader}}
- name: untrusted
  context: {{cluster: plain-trust, user: reader}}
- name: client-cert
  context: {{cluster: fake, user: cert-holder}}
"
            ),
        )
        .unwrap();
        path
    }
}

impl Drop for FakeKubernetes {
    fn drop(&mut self) {
        if let Some((_, accepting)) = &self.tls {
            accepting.abort();
        }
        let handle = self.handle.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { handle.stop(false).await });
        }
    }
}

type Shared = web::Data<(Arc<Mutex<Vec<KubeRequest>>>, Arc<Fixture>, Credential)>;

async fn serve(request: HttpRequest, state: Shared) -> HttpResponse {
    let (requests, fixture, credential) = state.get_ref();
    requests.lock().unwrap().push(KubeRequest {
        method: request.method().to_string(),
        path: request.path().to_owned(),
        query: request.query_string().to_owned(),
    });
    let authorized = *credential == Credential::ClientCertificate
        || request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {TOKEN}"));
    if !authorized {
        return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    }
    if request.method() != actix_web::http::Method::GET {
        return status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the fake serves reads only",
        );
    }
    let segments: Vec<&str> = request.path().trim_matches('/').split('/').collect();
    let selector = label_selector(request.query_string());
    match segments.as_slice() {
        ["api", "v1", "namespaces"] => list("NamespaceList", "v1", fixture.namespaces.clone()),
        ["api", "v1", "namespaces", namespace, "pods"] => list(
            "PodList",
            "v1",
            fixture.in_namespace(&fixture.pods, namespace, &selector),
        ),
        ["apis", "apps", "v1", "namespaces", namespace, "deployments"] => list(
            "DeploymentList",
            "apps/v1",
            fixture.in_namespace(&fixture.deployments, namespace, &selector),
        ),
        _ => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the fake does not serve this",
        ),
    }
}

fn list(kind: &str, api_version: &str, items: Vec<Value>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {"resourceVersion": "1"},
        "items": items,
    }))
}

fn status(code: StatusCode, reason: &str, message: &str) -> HttpResponse {
    HttpResponse::build(code).json(json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    }))
}

/// `labelSelector=app%3Dapi,tier%3Dweb` as `[("app", "api"), ("tier", "web")]` (equality only).
fn label_selector(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("labelSelector="))
        .flat_map(|value| {
            let decoded = value
                .replace("%3D", "=")
                .replace("%3d", "=")
                .replace("%2C", ",");
            decoded
                .split(',')
                .filter_map(|term| term.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The cluster the fake serves.
#[derive(Debug)]
pub struct Fixture {
    pub namespaces: Vec<Value>,
    pub pods: Vec<Value>,
    pub deployments: Vec<Value>,
}

impl Fixture {
    fn in_namespace(
        &self,
        items: &[Value],
        namespace: &str,
        selector: &[(String, String)],
    ) -> Vec<Value> {
        items
            .iter()
            .filter(|item| item["metadata"]["namespace"] == namespace)
            .filter(|item| {
                selector
                    .iter()
                    .all(|(k, v)| item["metadata"]["labels"][k].as_str() == Some(v.as_str()))
            })
            .cloned()
            .collect()
    }
}

/// Namespaces `default`, `production` and `staging`; in `production`, three pods (one crash
/// looping) and two deployments.
#[must_use]
pub fn fixture() -> Fixture {
    let namespace = |name: &str| {
        json!({"metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
               "status": {"phase": "Active"}})
    };
    let container = |name: &str, ready: bool, restarts: u32, state: Value| {
        json!({"name": name, "ready": ready, "restartCount": restarts, "state": state,
               "image": "registry.example/app:1", "imageID": "", "started": ready})
    };
    let running = json!({"running": {"startedAt": "2026-11-20T10:00:00Z"}});
    let pod = |name: &str, app: &str, phase: &str, containers: Vec<Value>| {
        let specs: Vec<Value> = containers
            .iter()
            .map(|c| json!({"name": c["name"], "image": c["image"]}))
            .collect();
        json!({
            "metadata": {"name": name, "namespace": "production", "labels": {"app": app},
                         "creationTimestamp": "2026-11-20T10:00:00Z"},
            "spec": {"containers": specs},
            "status": {"phase": phase, "containerStatuses": containers},
        })
    };
    let deployment = |name: &str, replicas: u32, ready: u32| {
        json!({
            "metadata": {"name": name, "namespace": "production", "labels": {"app": name},
                         "creationTimestamp": "2026-10-01T00:00:00Z"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": "registry.example/app:1"}]}}},
            "status": {"replicas": replicas, "readyReplicas": ready, "updatedReplicas": replicas,
                       "availableReplicas": ready},
        })
    };
    Fixture {
        namespaces: vec![
            namespace("default"),
            namespace("production"),
            namespace("staging"),
        ],
        pods: vec![
            pod(
                "api-7d9f8b6c5-x2x9k",
                "api",
                "Running",
                vec![
                    container("api", true, 0, running.clone()),
                    container("sidecar", true, 0, running.clone()),
                ],
            ),
            pod(
                "worker-5c8b7d9f4-q7lzp",
                "worker",
                "Running",
                vec![container(
                    "worker",
                    false,
                    7,
                    json!({"waiting": {"reason": "CrashLoopBackOff"}}),
                )],
            ),
            pod(
                "postgres-0",
                "postgres",
                "Running",
                vec![container("postgres", true, 1, running)],
            ),
        ],
        deployments: vec![deployment("api", 3, 3), deployment("worker", 2, 0)],
    }
}
