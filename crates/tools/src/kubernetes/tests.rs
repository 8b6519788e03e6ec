//! Against the testkit's fake API server: what the tools show, how they fail, and that only
//! GET requests ever reach the cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use overseer_testkit::fake_kubernetes::FakeKubernetes;
use serde_json::json;

use super::*;

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "overseer-kube-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A server reading the fake through a kubeconfig under an allowed root.
fn server(kubeconfig: &Path, settings: Value) -> Arc<dyn McpToolServer> {
    let factory = KubernetesFactory::new(&KubernetesConfig {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        timeout_seconds: 2,
        ..KubernetesConfig::default()
    })
    .unwrap();
    factory.open(settings.as_object().unwrap())
}

/// `get_pods` of `production`, through a server opened with `settings`.
async fn production_pods(kubeconfig: &Path, settings: Value) -> McpToolOutput {
    server(kubeconfig, settings)
        .call("get_pods", json!({"namespace": "production"}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tools_show_the_fixture_compactly() {
    let cluster = FakeKubernetes::start().await;
    let dir = temp_dir();
    let k8s = server(&cluster.write_kubeconfig(&dir), json!({}));

    let pods = k8s
        .call("get_pods", json!({"namespace": "production"}))
        .await;
    assert!(!pods.is_error, "{}", pods.text);
    let lines: Vec<&str> = pods.text.lines().collect();
    assert_eq!(lines[0], "3 pods in production:");
    assert!(
        lines[1].starts_with("NAME") && lines[1].contains("RESTARTS"),
        "{}",
        pods.text
    );
    assert!(
        lines[2].starts_with("api-7d9f8b6c5-x2x9k") && lines[2].contains(" 2/2 "),
        "{}",
        pods.text
    );
    assert!(
        lines[3].contains("0/1")
            && lines[3].contains("CrashLoopBackOff")
            && lines[3].contains(" 7 "),
        "{}",
        pods.text
    );
    assert!(lines[4].starts_with("postgres-0"), "{}", pods.text);

    let api = k8s
        .call(
            "get_pods",
            json!({"namespace": "production", "label_selector": "app=api"}),
        )
        .await;
    assert!(
        api.text
            .starts_with("1 pods in production matching app=api:"),
        "{}",
        api.text
    );

    let deployments = k8s
        .call("get_deployments", json!({"namespace": "production"}))
        .await;
    assert!(
        deployments.text.contains("worker") && deployments.text.contains("0/2"),
        "{}",
        deployments.text
    );
    let namespaces = k8s.call("get_namespaces", json!({})).await;
    assert!(
        namespaces.text.starts_with("3 namespaces:"),
        "{}",
        namespaces.text
    );
    assert!(
        namespaces.text.contains("production  Active"),
        "{}",
        namespaces.text
    );
    let empty = k8s.call("get_pods", json!({"namespace": "staging"})).await;
    assert_eq!(empty.text, "no pods in staging");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_get_requests_ever_reach_the_cluster() {
    let cluster = FakeKubernetes::start().await;
    let dir = temp_dir();
    let k8s = server(&cluster.write_kubeconfig(&dir), json!({}));
    for (tool, arguments) in [
        ("get_namespaces", json!({})),
        ("get_pods", json!({"namespace": "production"})),
        (
            "get_pods",
            json!({"namespace": "production", "label_selector": "app=worker"}),
        ),
        ("get_deployments", json!({"namespace": "production"})),
        ("get_deployments", json!({"namespace": "kube-system"})),
        ("get_pods", json!({"namespace": "../../apis/apps/v1"})),
        (
            "delete_pod",
            json!({"namespace": "production", "name": "api"}),
        ),
    ] {
        let _ = k8s.call(tool, arguments).await;
    }
    // The fake records what is not a GET too: a write sent by hand shows up.
    let address = cluster.plain_address().to_string();
    let answer = raw_request(&address, "DELETE /api/v1/namespaces/production/pods/x").await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    let requests = cluster.requests();
    let (probes, tools): (Vec<_>, Vec<_>) = requests.iter().partition(|r| r.method == "DELETE");
    assert_eq!(
        probes.len(),
        1,
        "the fake records other methods: {requests:?}"
    );
    assert_eq!(
        tools.len(),
        5,
        "one request per valid listing: {requests:?}"
    );
    assert!(tools.iter().all(|r| r.method == "GET"), "{tools:?}");
    assert!(
        tools.iter().all(|r| r.path.ends_with("/namespaces")
            || r.path.ends_with("/pods")
            || r.path.ends_with("/deployments")),
        "{tools:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Sends `request_line` by hand and returns the status line.
async fn raw_request(address: &str, request_line: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request =
        format!("{request_line} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contexts_choose_cluster_and_credentials_and_failures_read_well() {
    let cluster = FakeKubernetes::start().await;
    let dir = temp_dir();
    let kubeconfig = cluster.write_kubeconfig(&dir);

    let refused = production_pods(&kubeconfig, json!({"context": "wrong-token"})).await;
    assert!(
        refused.is_error && refused.text.contains("401"),
        "{}",
        refused.text
    );

    let unreachable = production_pods(&kubeconfig, json!({"context": "nowhere"})).await;
    assert!(
        unreachable.is_error && unreachable.text.contains("cannot be reached"),
        "{}",
        unreachable.text
    );

    let out = production_pods(&kubeconfig, json!({"context": "no-such-context"})).await;
    assert!(
        out.is_error && out.text.contains("cannot use the kubeconfig"),
        "{}",
        out.text
    );

    let out = production_pods(&dir.join("missing.yaml"), json!({})).await;
    assert!(
        out.is_error && out.text.contains("cannot read the kubeconfig"),
        "{}",
        out.text
    );

    let none = KubernetesFactory::new(&KubernetesConfig::default())
        .unwrap()
        .open(&Map::new());
    let out = none.call("get_namespaces", json!({})).await;
    assert!(
        out.is_error && out.text.contains("no kubeconfig"),
        "{}",
        out.text
    );

    let bad = server(&kubeconfig, json!({}));
    for arguments in [
        json!({}),
        json!({"namespace": "Prod/../x"}),
        json!({"namespace": 3}),
    ] {
        assert!(bad.call("get_pods", arguments).await.is_error);
    }
    assert!(
        cluster.requests().iter().all(|r| r.path.ends_with("/pods")),
        "no invalid namespace reached the cluster"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_the_kubeconfigs_ca_data_decides_trust() {
    let cluster = FakeKubernetes::start_tls().await;
    assert!(cluster.url().starts_with("https://127.0.0.1:"));
    let dir = temp_dir();
    let kubeconfig = cluster.write_kubeconfig(&dir);

    let out = production_pods(&kubeconfig, json!({})).await;
    assert!(!out.is_error, "{}", out.text);
    assert!(
        out.text.starts_with("3 pods in production:"),
        "{}",
        out.text
    );

    let out = production_pods(&kubeconfig, json!({"context": "untrusted"})).await;
    assert!(
        out.is_error && out.text.contains("certificate"),
        "a server the CA data does not vouch for is refused, saying why: {}",
        out.text
    );
    assert_eq!(
        cluster.requests().len(),
        1,
        "the refused handshake sent no request: {:?}",
        cluster.requests()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_from_the_kubeconfig_is_presented() {
    let cluster = FakeKubernetes::start_mtls().await;
    let dir = temp_dir();
    let kubeconfig = cluster.write_kubeconfig(&dir);

    let out = production_pods(&kubeconfig, json!({"context": "client-cert"})).await;
    assert!(!out.is_error, "{}", out.text);
    assert!(
        out.text.starts_with("3 pods in production:"),
        "{}",
        out.text
    );

    let out = production_pods(&kubeconfig, json!({})).await;
    assert!(
        out.is_error,
        "without a certificate the handshake fails: {}",
        out.text
    );
    assert_eq!(cluster.requests().len(), 1, "{:?}", cluster.requests());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn tasks_choose_kubeconfigs_only_under_the_allowed_roots() {
    let factory = KubernetesFactory::new(&KubernetesConfig {
        kubeconfig_roots: vec![PathBuf::from("/etc/overseer/kube")],
        ..KubernetesConfig::default()
    })
    .unwrap();
    let check = |settings: Value| factory.check(settings.as_object().unwrap());
    assert_eq!(check(json!({})), Ok(()));
    assert_eq!(
        check(json!({"kubeconfig": "/etc/overseer/kube/prod.yaml", "context": "prod"})),
        Ok(())
    );
    for outside in [
        "/etc/overseer/kube/../../shadow",
        "/root/.kube/config",
        "kube/prod.yaml",
        "/etc/overseer/kubex",
    ] {
        let err = check(json!({ "kubeconfig": outside })).unwrap_err();
        assert!(err.contains("/etc/overseer/kube"), "{outside}: {err}");
    }
    assert!(
        check(json!({"kubeconfg": "/x"}))
            .unwrap_err()
            .contains("'kubeconfg'")
    );
    assert!(check(json!({"context": 5})).is_err());
    let closed = KubernetesFactory::new(&KubernetesConfig::default()).unwrap();
    let err = closed
        .check(json!({"kubeconfig": "/etc/k"}).as_object().unwrap())
        .unwrap_err();
    assert!(err.contains("lets no task choose"), "{err}");
    assert!(
        KubernetesFactory::new(&KubernetesConfig {
            kubeconfig_roots: vec![PathBuf::from("relative")],
            ..KubernetesConfig::default()
        })
        .is_err()
    );
}
