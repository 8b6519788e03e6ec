//! `GET /sessions/{id}/stream`: the session's events, as a WebSocket (on `Upgrade`) or as
//! server-sent events (otherwise).
//!
//! One producer serves both: it subscribes, then pumps the session's stream
//! (`SessionService::stream`: the replay, then live events, nothing lost and nothing twice)
//! into frames. A subscriber that falls behind the broadcast buffer gets a closing frame with
//! the reason and the `after` to resume from: it never slows the run.
//! SSE clients resume with `Last-Event-ID` (the sequence number), WebSocket ones with `?after=`.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use actix_ws::{CloseCode, CloseReason};
use overseer_domain::{Role, SessionId};
use overseer_ports::LiveEventBody;
use overseer_services::{SessionStream, StreamEnd, StreamItem};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::id;
use crate::HttpState;
use crate::caller::{bearer, origin};
use crate::error::ApiError;
use crate::message_view::{Include, MessageView};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    #[serde(default)]
    after: Option<u64>,
    /// A stream token, for clients that cannot send an `Authorization` header.
    #[serde(default)]
    token: Option<String>,
    /// `raw`: add each message's frame as the agent sent it.
    #[serde(default)]
    include: Option<Include>,
}

/// Live streams (WebSocket or SSE) open at once on one session, on this node.
pub(crate) const MAX_SUBSCRIBERS_PER_SESSION: usize = 256;
/// Frames waiting for a slow client before the producer itself waits.
const CLIENT_BUFFER: usize = 256;

/// One thing to send.
enum Frame {
    Event {
        sequence: u64,
        kind: String,
        /// The frame's JSON text.
        body: String,
    },
    /// The last frame: why the stream ends.
    Close { reason: String },
}

/// Pumps `stream` into a channel of frames for the client's writer; ends when the stream does
/// or the client goes away.
fn produce(mut events: SessionStream, include: Option<Include>) -> mpsc::Receiver<Frame> {
    let (out, frames) = mpsc::channel(CLIENT_BUFFER);
    tokio::spawn(async move {
        while let Some(item) = events.next().await {
            if out.send(frame_of(item, include)).await.is_err() {
                return;
            }
        }
    });
    frames
}

fn frame_of(item: StreamItem, include: Option<Include>) -> Frame {
    match item {
        StreamItem::Replayed(message) => {
            let sequence = message.sequence_number;
            Frame::Event {
                sequence,
                kind: "message".to_owned(),
                body: json!({"kind": "message", "sequence": sequence, "message": MessageView::new(*message, include)}).to_string(),
            }
        }
        StreamItem::Live(event) => {
            let kind = event.kind().as_str();
            let body = match (&event.body, include) {
                (LiveEventBody::Message(message), Some(Include::Raw)) => {
                    let mut payload = event.payload();
                    payload["raw"] = message.body.raw.clone();
                    json!({"kind": kind, "sequence": event.sequence, "payload": payload})
                        .to_string()
                }
                // The payload's text is shared by every subscriber of the event (a message's
                // is rendered once for all of them); `kind` is a fixed identifier.
                _ => format!(
                    r#"{{"kind":"{kind}","sequence":{},"payload":{}}}"#,
                    event.sequence,
                    event.payload_text()
                ),
            };
            Frame::Event {
                sequence: event.sequence,
                kind: kind.to_owned(),
                body,
            }
        }
        StreamItem::End(StreamEnd::ReplayFailed) => Frame::Close {
            reason: "replay failed".to_owned(),
        },
        StreamItem::End(StreamEnd::Lagged {
            missed,
            resume_after,
        }) => Frame::Close {
            reason: format!(
                "too slow: {missed} events missed; reconnect with after={resume_after}"
            ),
        },
    }
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/stream", tag = "sessions", responses((status = 101, description = "WebSocket (with Upgrade): JSON frames {kind, sequence, message|payload}"), (status = 200, description = "text/event-stream (without Upgrade): id = sequence, event = kind"), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id"), ("after" = Option<u64>, Query, description = "replay after this sequence number"), ("token" = Option<String>, Query, description = "a stream token instead of the Authorization header"), ("include" = Option<String>, Query, description = "`raw`: add each message's frame as the agent sent it"), ("last-event-id" = Option<String>, Header, description = "SSE resume point")), security(("bearer" = [])))]
#[get("/sessions/{id}/stream")]
pub(crate) async fn stream(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    query: web::Query<StreamQuery>,
) -> Result<HttpResponse, actix_web::Error> {
    let session: SessionId = id(&path, "session")?;
    let query = query.into_inner();
    let caller = match (bearer(&req), &query.token) {
        (Some(token), _) => state
            .auth
            .authenticate(&token)
            .await
            .map_err(ApiError::from)?,
        (None, Some(token)) => state
            .auth
            .authenticate_stream(token, session)
            .await
            .map_err(ApiError::from)?,
        (None, None) => return Err(ApiError::unauthorized().into()),
    };
    let ctx = origin(&req, caller.user_id, caller.role == Role::Admin);
    state
        .services
        .sessions
        .get(&ctx, session)
        .await
        .map_err(ApiError::from)?;
    let last_event_id = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let after = query.after.or(last_event_id).unwrap_or(0);
    // Subscribe first: what is published from here on is either replayed or live.
    let live = state
        .live
        .subscribe(session, MAX_SUBSCRIBERS_PER_SESSION)
        .map_err(|full| ApiError::cap_reached("subscribers_per_session", full.to_string()))?;
    let frames = produce(
        state.services.sessions.stream(ctx, session, after, live),
        query.include,
    );
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        websocket(&req, body, frames)
    } else {
        Ok(server_sent_events(frames))
    }
}

fn websocket(
    req: &HttpRequest,
    body: web::Payload,
    mut frames: mpsc::Receiver<Frame>,
) -> Result<HttpResponse, actix_web::Error> {
    let (response, mut socket, _incoming) = actix_ws::handle(req, body)?;
    actix_web::rt::spawn(async move {
        while let Some(frame) = frames.recv().await {
            match frame {
                Frame::Event { body, .. } => {
                    if socket.text(body).await.is_err() {
                        return;
                    }
                }
                Frame::Close { reason } => {
                    let _ = socket
                        .close(Some(CloseReason {
                            code: CloseCode::Policy,
                            description: Some(reason),
                        }))
                        .await;
                    return;
                }
            }
        }
        let _ = socket.close(None).await;
    });
    Ok(response)
}

fn server_sent_events(frames: mpsc::Receiver<Frame>) -> HttpResponse {
    let body = futures_util::stream::unfold(frames, |mut frames| async move {
        let text = match frames.recv().await? {
            Frame::Event {
                sequence,
                kind,
                body,
            } => format!("id: {sequence}\nevent: {kind}\ndata: {body}\n\n"),
            Frame::Close { reason } => {
                format!("event: close\ndata: {}\n\n", json!({"reason": reason}))
            }
        };
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(text)), frames))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(body)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(stream);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use overseer_ports::{LiveEvent, SharedMessage};
    use serde_json::Value;

    use super::*;

    /// A live message's frame is the event's payload under `kind` and `sequence`, from the
    /// text its subscribers share; `include=raw` adds the frame the agent sent.
    #[test]
    fn a_live_message_frame_carries_the_shared_payload() {
        let session = SessionId::from_uuid(uuid::Uuid::now_v7());
        let event = LiveEvent {
            session_id: session,
            sequence: 7,
            body: LiveEventBody::Message(Arc::new(SharedMessage::new(overseer_domain::Message {
                id: overseer_domain::MessageId::from_uuid(uuid::Uuid::now_v7()),
                session_id: session,
                message_type: overseer_domain::MessageType::Assistant,
                role: None,
                body: overseer_domain::MessageBody {
                    blocks: vec![overseer_domain::ContentBlock::Text {
                        text: "quote \" here".into(),
                    }],
                    raw: json!({"type": "assistant"}),
                    ..Default::default()
                },
                sequence_number: 7,
                created_at: time::OffsetDateTime::UNIX_EPOCH,
            }))),
        };
        let parsed = |frame: Frame| match frame {
            Frame::Event { body, .. } => serde_json::from_str::<Value>(&body).unwrap(),
            Frame::Close { reason } => panic!("closed: {reason}"),
        };
        let plain = parsed(frame_of(StreamItem::Live(event.clone()), None));
        assert_eq!(
            plain,
            json!({"kind": "message", "sequence": 7, "payload": event.payload()})
        );
        assert_eq!(
            plain["payload"]["blocks"][0]["text"],
            json!("quote \" here")
        );
        let with_raw = parsed(frame_of(StreamItem::Live(event), Some(Include::Raw)));
        assert_eq!(with_raw["payload"]["raw"], json!({"type": "assistant"}));
    }

    #[test]
    fn a_lagging_stream_closes_with_the_reason_and_where_to_resume() {
        let lagged = StreamItem::End(StreamEnd::Lagged {
            missed: 7,
            resume_after: 42,
        });
        let Frame::Close { reason } = frame_of(lagged, None) else {
            panic!("expected a closing frame");
        };
        assert!(
            reason.contains("too slow") && reason.contains("after=42"),
            "{reason}"
        );
    }
}
