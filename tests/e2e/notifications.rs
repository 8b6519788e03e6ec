//! Outbound notifications over HTTP: a user's target hears the approval a run waits on and
//! the run's end, signed; a receiver that is down first gets the same delivery later.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use overseer_e2e::{Db, spawn_with_agent};
use overseer_services::hmac_sha256_hex;
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::script::{Reply, Script};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the receiver got: headers (lower-case names) and body, in order.
type Received = Arc<Mutex<Vec<(Vec<(String, String)>, String)>>>;

/// A small HTTP receiver on loopback: answers 503 while `down`, else 200.
struct Receiver {
    url: String,
    received: Received,
    down: Arc<Mutex<bool>>,
}

async fn read_request(
    stream: &mut tokio::net::TcpStream,
) -> Option<(Vec<(String, String)>, String)> {
    let mut data = Vec::new();
    let mut buf = [0_u8; 8192];
    loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).into_owned();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let headers: Vec<(String, String)> = text[..end]
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).into_owned();
            return Some((headers, body));
        }
    }
}

async fn receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let down = Arc::new(Mutex::new(false));
    let (got, is_down) = (received.clone(), down.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (got, is_down) = (got.clone(), is_down.clone());
            tokio::spawn(async move {
                let Some(request) = read_request(&mut stream).await else {
                    return;
                };
                let status = if *is_down.lock().unwrap() {
                    "503 Service Unavailable"
                } else {
                    got.lock().unwrap().push(request);
                    "200 OK"
                };
                let answer =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    Receiver {
        url,
        received,
        down,
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

impl Receiver {
    /// The first body received for `event` (its signature checked with `secret`), waiting
    /// up to 60 s.
    async fn event(&self, event: &str, secret: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = self
                .received
                .lock()
                .unwrap()
                .iter()
                .find(|(h, _)| header(h, "x-overseer-event") == event)
                .cloned();
            if let Some((headers, body)) = found {
                let timestamp = header(&headers, "x-overseer-timestamp");
                let expected = format!(
                    "sha256={}",
                    hmac_sha256_hex(secret.as_bytes(), format!("{timestamp}.{body}").as_bytes())
                );
                assert_eq!(
                    header(&headers, "x-overseer-signature"),
                    expected,
                    "signed with the target's secret"
                );
                let body: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(
                    body["id"].as_str().unwrap(),
                    header(&headers, "x-overseer-delivery")
                );
                return body;
            }
            assert!(Instant::now() < deadline, "no {event} within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn poll(api: &Api, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = api.json(Method::GET, path, None).await;
        if status == 200 && done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{path} never got there: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_hears_the_approval_and_the_end_of_a_run_signed_and_after_an_outage() {
    let Some(app) = spawn_with_agent(Db::Sqlite).await else {
        return;
    };
    app.api.as_ref().unwrap().script(Script::new(
        "Deploy the web service",
        vec![
            Reply::bash("echo deployed web"),
            Reply::text("Deployed web."),
        ],
    ));
    let base = app.url("");
    let _admin = Api::sign_up(&base, "admin@example.com").await;
    let alice = Api::sign_up(&base, "alice@example.com").await;
    let bob = Api::sign_up(&base, "bob@example.com").await;
    let hook = receiver().await;
    *hook.down.lock().unwrap() = true;

    // Bad input names its field; a global target is an admin's.
    let (status, body) = alice
        .json(
            Method::POST,
            "/api/v1/notification-targets",
            Some(json!({"url": hook.url, "events": ["approval.maybe"]})),
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["field"].clone()),
        (422, json!("events")),
        "{body}"
    );
    let (status, body) = alice
        .json(
            Method::POST,
            "/api/v1/notification-targets",
            Some(json!({"url": hook.url, "events": ["execution.finished"], "global": true})),
        )
        .await;
    assert_eq!(status, 403, "{body}");

    let (status, target) = alice
        .json(
            Method::POST,
            "/api/v1/notification-targets",
            Some(json!({"url": hook.url, "events": ["approval.requested", "approval.decided", "execution.finished"]})),
        )
        .await;
    assert_eq!(status, 201, "{target}");
    let secret = target["secret"].as_str().unwrap().to_owned();
    let target_path = format!(
        "/api/v1/notification-targets/{}",
        target["id"].as_str().unwrap()
    );
    let (_, shown) = alice.json(Method::GET, &target_path, None).await;
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown once: {shown}"
    );
    let (status, _) = bob.json(Method::GET, &target_path, None).await;
    assert_eq!(status, 404, "not bob's");

    let (status, task) = alice
        .json(
            Method::POST,
            "/api/v1/tasks",
            Some(
                json!({"name": "Deploy", "prompt_template": "Deploy the {service} service.",
                        "variables": [{"name": "service", "type": "string"}],
                        "sdk_options": {"ask_tools": ["Bash"], "max_turns": 5}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    let (status, run) = alice
        .json(
            Method::POST,
            &format!("/api/v1/tasks/{}/execute", task["id"].as_str().unwrap()),
            Some(json!({"variables": {"service": "web"}})),
        )
        .await;
    assert_eq!(status, 202, "{run}");

    // The receiver is down: the delivery waits, with the reason, then arrives once it is up.
    let deliveries = format!("{target_path}/deliveries");
    let failed = poll(&alice, &deliveries, |list| {
        list["items"][0]["attempts"].as_u64() >= Some(1)
    })
    .await;
    assert_eq!(failed["items"][0]["status"], "pending", "{failed}");
    assert!(
        failed["items"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{failed}"
    );
    let waiting_id = failed["items"][0]["id"].clone();
    *hook.down.lock().unwrap() = false;
    let requested = hook.event("approval.requested", &secret).await;
    assert_eq!(
        requested["id"], waiting_id,
        "the same delivery, after the outage"
    );
    assert_eq!(requested["data"]["tool_name"], "Bash");
    assert_eq!(
        requested["data"]["tool_input"]["command"],
        "echo deployed web"
    );
    let answer = requested["_links"]["answer"].as_str().unwrap();

    let (status, body) = alice
        .json(Method::POST, answer, Some(json!({"decision": "allow"})))
        .await;
    assert_eq!(status, 200, "{body}");
    let decided = hook.event("approval.decided", &secret).await;
    assert_eq!(decided["data"]["status"], "allowed");
    let finished = hook.event("execution.finished", &secret).await;
    assert_eq!(finished["data"]["execution_id"], run["id"]);
    assert_eq!(finished["data"]["status"], "completed", "{finished}");
    assert!(finished["data"]["duration_seconds"].as_f64().unwrap() > 0.0);
    assert!(finished["data"]["cost_usd"].is_number());

    let listed = poll(&alice, &deliveries, |list| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "delivered")
            && list["total"] == 3
    })
    .await;
    assert_eq!(listed["total"], 3, "{listed}");
    let (status, _) = alice.json(Method::DELETE, &target_path, None).await;
    assert_eq!(status, 204);
}
