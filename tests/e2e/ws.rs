//! Reading a session's live stream over a WebSocket (on the testkit's client).

use std::time::Duration;

use overseer_testkit::live_stream::{self, message_type};
use serde_json::Value;

pub use overseer_testkit::live_stream::Socket;

/// Opens `session`'s stream with a bearer token, replaying after `after`.
pub async fn open(addr: std::net::SocketAddr, session: &str, token: &str, after: u64) -> Socket {
    live_stream::open(&format!("http://{addr}"), token, session, after).await
}

/// The next event frame (within a minute).
pub async fn next_event(socket: &mut Socket) -> Value {
    tokio::time::timeout(Duration::from_secs(60), live_stream::next_event(socket))
        .await
        .expect("no event within a minute")
        .expect("the stream ended")
}

/// The next message event: (sequence, message type).
pub async fn next_message(socket: &mut Socket) -> (u64, String) {
    loop {
        let event = next_event(socket).await;
        if let Some(kind) = message_type(&event) {
            return (event["sequence"].as_u64().unwrap(), kind.to_owned());
        }
    }
}

/// Message sequence numbers up to and including the turn's result.
pub async fn until_result(socket: &mut Socket) -> Vec<u64> {
    let mut seen = Vec::new();
    loop {
        let (sequence, kind) = next_message(socket).await;
        seen.push(sequence);
        if kind == "result" {
            return seen;
        }
    }
}
