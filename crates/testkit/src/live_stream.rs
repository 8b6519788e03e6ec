//! A session's live stream over a WebSocket, as the end-to-end tests and the benchmarks read it.

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `session`'s stream on the server at `base` (`http://host:port`) with a bearer token,
/// replaying what is stored after `after`.
pub async fn open(base: &str, token: &str, session: &str, after: u64) -> Socket {
    connect(base, token, &format!("{session}/stream?after={after}")).await
}

/// As [`open`], with each message's raw frame (`?include=raw`).
pub async fn open_raw(base: &str, token: &str, session: &str, after: u64) -> Socket {
    connect(
        base,
        token,
        &format!("{session}/stream?after={after}&include=raw"),
    )
    .await
}

async fn connect(base: &str, token: &str, path: &str) -> Socket {
    let url = format!(
        "{}/api/v1/sessions/{path}",
        base.replace("http://", "ws://")
    );
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The next event, or `None` once the stream has ended.
pub async fn next_event(socket: &mut Socket) -> Option<Value> {
    while let Some(frame) = socket.next().await {
        if let Ok(WsMessage::Text(text)) = frame {
            return Some(serde_json::from_str(text.as_str()).unwrap());
        }
    }
    None
}

/// The stored message type of a `message` event.
#[must_use]
pub fn message_type(event: &Value) -> Option<&str> {
    if event["kind"] != "message" {
        return None;
    }
    event
        .pointer("/message/message_type")
        .or_else(|| event.pointer("/payload/message_type"))
        .and_then(Value::as_str)
}
