//! A webhook receiver on loopback for notification tests: records each request, answers
//! 503 while it is "down", can answer slowly, notes a delivery received twice at the same
//! time, and checks deliveries' signatures.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::Value;

/// HMAC-SHA256 as the service signs with, given by the caller (the testkit does not depend
/// on the services).
pub type Signer = fn(&[u8], &[u8]) -> String;

/// What the receiver got: headers (lower-case names) and body, in order.
type Received = Arc<Mutex<Vec<(Vec<(String, String)>, String)>>>;

/// How the receiver answers, and what it saw.
#[derive(Debug, Default)]
struct State {
    received: Received,
    down: Mutex<bool>,
    /// How long each answer takes.
    delay: Mutex<Duration>,
    /// Requests being answered, per delivery id.
    in_flight: Mutex<HashMap<String, usize>>,
    /// Delivery ids that arrived while the same id was still being answered.
    overlaps: Mutex<Vec<String>>,
}

/// A small HTTP receiver on loopback: answers 503 while `down`, else 200.
#[derive(Debug)]
pub struct Receiver {
    /// Where to send (`http://127.0.0.1:<port>/hook`).
    pub url: String,
    state: Arc<State>,
}

/// Records a delivery, or answers 503 while the receiver is down.
async fn receive(request: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    if *state.down.lock().unwrap() {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let delivery = request
        .headers()
        .get("x-overseer-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    {
        let mut in_flight = state.in_flight.lock().unwrap();
        let count = in_flight.entry(delivery.clone()).or_default();
        if *count > 0 {
            state.overlaps.lock().unwrap().push(delivery.clone());
        }
        *count += 1;
    }
    let delay = *state.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    if let Some(count) = state.in_flight.lock().unwrap().get_mut(&delivery) {
        *count -= 1;
    }
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    state
        .received
        .lock()
        .unwrap()
        .push((headers, String::from_utf8_lossy(&body).into_owned()));
    HttpResponse::Ok().finish()
}

/// Starts a receiver on a free port (actix-web, like the testkit's other fake servers).
///
/// # Panics
/// If no port can be bound.
pub async fn receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let state = web::Data::new(State::default());
    let shared = state.clone().into_inner();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .default_service(web::to(receive))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    Receiver { url, state: shared }
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
        *self.state.down.lock().unwrap() = down;
    }

    /// Takes `delay` to answer each request from now on.
    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// The delivery ids received for `event`, in order (a redelivery shows twice).
    pub fn delivery_ids(&self, event: &str) -> Vec<String> {
        self.state
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|(h, _)| header(h, "x-overseer-event") == event)
            .map(|(h, _)| header(h, "x-overseer-delivery").to_owned())
            .collect()
    }

    /// Delivery ids that arrived while the same delivery was still being answered.
    pub fn overlaps(&self) -> Vec<String> {
        self.state.overlaps.lock().unwrap().clone()
    }

    /// The first body received for `event` (its signature checked with `secret` by
    /// `sign`), waiting up to 60 s.
    ///
    /// # Panics
    /// Without one in time, or on a bad signature.
    pub async fn event(&self, event: &str, secret: &str, sign: Signer) -> Value {
        self.event_where(event, secret, sign, |_| true).await
    }

    /// The first body received for `event` for which `wanted` holds, as [`Receiver::event`].
    ///
    /// # Panics
    /// Without one in time, or on a bad signature.
    pub async fn event_where(
        &self,
        event: &str,
        secret: &str,
        sign: Signer,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = self
                .state
                .received
                .lock()
                .unwrap()
                .iter()
                .find(|(h, body)| {
                    header(h, "x-overseer-event") == event
                        && serde_json::from_str(body).is_ok_and(|body: Value| wanted(&body))
                })
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
