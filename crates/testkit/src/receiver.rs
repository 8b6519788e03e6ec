//! A webhook receiver on loopback for notification tests: records each request, answers
//! 503 while it is "down", and checks deliveries' signatures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// HMAC-SHA256 as the service signs with, given by the caller (the testkit does not depend
/// on the services).
pub type Signer = fn(&[u8], &[u8]) -> String;

/// What the receiver got: headers (lower-case names) and body, in order.
type Received = Arc<Mutex<Vec<(Vec<(String, String)>, String)>>>;

/// A small HTTP receiver on loopback: answers 503 while `down`, else 200.
#[derive(Debug)]
pub struct Receiver {
    /// Where to send (`http://127.0.0.1:<port>/hook`).
    pub url: String,
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

/// Starts a receiver on a free port.
///
/// # Panics
/// If no port can be bound.
pub async fn receiver() -> Receiver {
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
    /// Answers 503 (`true`) or 200 (`false`) from now on.
    pub fn set_down(&self, down: bool) {
        *self.down.lock().unwrap() = down;
    }

    /// The first body received for `event` (its signature checked with `secret` by
    /// `sign`), waiting up to 60 s.
    ///
    /// # Panics
    /// Without one in time, or on a bad signature.
    pub async fn event(&self, event: &str, secret: &str, sign: Signer) -> Value {
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
                    sign(secret.as_bytes(), format!("{timestamp}.{body}").as_bytes())
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
