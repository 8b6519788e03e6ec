//! A fake Anthropic Messages API on 127.0.0.1 (random port) for the real CLI: scripted
//! streaming replies, recorded requests.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use futures_util::stream;
use serde_json::{Value, json};

use crate::script::{Reply, Script, assistant_turns, choose};

#[derive(Debug, Default)]
struct State {
    scripts: Vec<Script>,
    requests: Vec<Value>,
    next_id: u64,
}

/// A running fake API. Stops when dropped.
#[derive(Debug)]
pub struct FakeAnthropic {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    handle: ServerHandle,
}

impl FakeAnthropic {
    /// Starts the server on a free loopback port.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake API");
        let address = listener.local_addr().expect("fake API address");
        let shared = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .route("/v1/messages", web::post().to(messages))
                .route("/v1/messages/count_tokens", web::post().to(count_tokens))
                .default_service(web::to(|| async { HttpResponse::Ok().json(json!({})) }))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen fake API")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            address,
            state,
            handle,
        }
    }

    /// For `ANTHROPIC_BASE_URL`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Adds a script, chosen by its marker.
    pub fn script(&self, script: Script) {
        self.state.lock().unwrap().scripts.push(script);
    }

    /// Every `POST /v1/messages` body received, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<Value> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The requests of the conversation whose first user text contains `marker`.
    #[must_use]
    pub fn requests_for(&self, marker: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| {
                let messages = r
                    .get("messages")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                crate::script::first_user_text(&messages).contains(marker)
            })
            .collect()
    }
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { handle.stop(false).await });
        }
    }
}

async fn count_tokens() -> HttpResponse {
    HttpResponse::Ok().json(json!({"input_tokens": 10}))
}

async fn messages(
    _request: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("claude-fake")
        .to_owned();
    let (reply, delay, id) = {
        let mut state = state.lock().unwrap();
        state.requests.push(body.clone());
        state.next_id += 1;
        let script = choose(&state.scripts, &messages);
        let reply = script.map_or_else(
            || Reply::text("OK"),
            |s| s.reply(assistant_turns(&messages)),
        );
        (reply, script.map_or(0, |s| s.event_delay_ms), state.next_id)
    };
    match reply {
        Reply::ApiError { status } => {
            let status = actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
            HttpResponse::build(status)
                .json(json!({"type": "error", "error": {"type": "api_error", "message": "scripted failure"}}))
        }
        // A plain request (newer CLIs validate a model with one before `set_model`): one JSON
        // message, with the usage the caller reads.
        reply if body.get("stream").and_then(Value::as_bool) != Some(true) => {
            HttpResponse::Ok().json(plain_message(&reply, &model, &format!("msg_fake_{id}")))
        }
        reply => {
            let events = sse_events(&reply, &model, &format!("msg_fake_{id}"));
            let pause = Duration::from_millis(delay);
            let body = stream::unfold(events.into_iter(), move |mut events| async move {
                let event = events.next()?;
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                Some((
                    Ok::<_, std::convert::Infallible>(Bytes::from(event)),
                    events,
                ))
            });
            HttpResponse::Ok()
                .content_type("text/event-stream")
                .insert_header(("cache-control", "no-cache"))
                .streaming(body)
        }
    }
}

fn sse(event: &str, data: &Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// One model message, not streamed.
fn plain_message(reply: &Reply, model: &str, message_id: &str) -> Value {
    let (content, stop_reason) = match reply {
        Reply::Text { text } => (json!([{"type": "text", "text": text}]), "end_turn"),
        Reply::ToolUse { name, input, text } => {
            let tool_id = format!("toolu_{}", message_id.trim_start_matches("msg_"));
            let mut blocks: Vec<Value> = text
                .iter()
                .map(|text| json!({"type": "text", "text": text}))
                .collect();
            blocks.push(json!({"type": "tool_use", "id": tool_id, "name": name, "input": input}));
            (Value::Array(blocks), "tool_use")
        }
        _ => (json!([{"type": "text", "text": "OK"}]), "end_turn"),
    };
    json!({
        "id": message_id, "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop_reason, "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 7}
    })
}

/// The server-sent events of one streamed model message.
fn sse_events(reply: &Reply, model: &str, message_id: &str) -> Vec<String> {
    let mut events = vec![sse(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 12, "output_tokens": 1}
        }}),
    )];
    let mut index = 0;
    let mut text_block = |events: &mut Vec<String>, text: &str| {
        events.push(sse("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})));
        events.push(sse("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}})));
        events.push(sse(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    };
    let stop_reason = match reply {
        Reply::Text { text } => {
            text_block(&mut events, text);
            "end_turn"
        }
        Reply::ToolUse { name, input, text } => {
            if let Some(text) = text {
                text_block(&mut events, text);
            }
            let tool_id = format!("toolu_{}", message_id.trim_start_matches("msg_"));
            events.push(sse("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": tool_id, "name": name, "input": {}}})));
            events.push(sse("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": input.to_string()}})));
            events.push(sse(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
            "tool_use"
        }
        // Faults only the fake CLI can play: the API answers plainly.
        _ => {
            text_block(&mut events, "OK");
            "end_turn"
        }
    };
    events.push(sse("message_delta", &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": 7}})));
    events.push(sse("message_stop", &json!({"type": "message_stop"})));
    events
}
