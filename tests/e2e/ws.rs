//! Reading a session's live stream over a WebSocket.

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `session`'s stream with a bearer token, replaying after `after`.
pub async fn open(addr: std::net::SocketAddr, session: &str, token: &str, after: u64) -> Socket {
    let mut request = format!("ws://{addr}/api/v1/sessions/{session}/stream?after={after}")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The next event frame (within a minute).
pub async fn next_event(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(60), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let WsMessage::Text(text) = frame {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// The next message event: (sequence, message type).
pub async fn next_message(socket: &mut Socket) -> (u64, String) {
    loop {
        let event = next_event(socket).await;
        if event["kind"] == "message" {
            let kind = event
                .pointer("/message/message_type")
                .or_else(|| event.pointer("/payload/message_type"))
                .unwrap();
            return (
                event["sequence"].as_u64().unwrap(),
                kind.as_str().unwrap().to_owned(),
            );
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
