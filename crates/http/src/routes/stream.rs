//! `GET /sessions/{id}/stream`: the session's events, as a WebSocket (on `Upgrade`) or as
//! server-sent events (otherwise).
//!
//! One producer serves both. It subscribes before it replays, so nothing published during the
//! replay is lost; messages already replayed are skipped when they come again live (by sequence
//! number), so nothing is sent twice. A subscriber that falls behind the broadcast buffer gets a
//! closing frame with the reason and the `after` to resume from: it never slows the run.
//! SSE clients resume with `Last-Event-ID` (the sequence number), WebSocket ones with `?after=`.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use actix_ws::{CloseCode, CloseReason};
use overseer_domain::{Role, SessionId};
use overseer_ports::{LiveEventKind, Subscription, SubscriptionEnd};
use overseer_services::RequestContext;
use overseer_services::SessionService;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::mpsc;

use super::id;
use crate::HttpState;
use crate::caller::{bearer, origin};
use crate::error::ApiError;
use crate::views::MessageView;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    #[serde(default)]
    after: Option<u64>,
    /// A stream token, for clients that cannot send an `Authorization` header.
    #[serde(default)]
    token: Option<String>,
}

const REPLAY_BATCH: u32 = 500;
/// Live streams (WebSocket or SSE) open at once on one session, on this node.
pub(crate) const MAX_SUBSCRIBERS_PER_SESSION: usize = 256;
/// Frames waiting for a slow client before the producer itself waits.
const CLIENT_BUFFER: usize = 256;

/// One thing to send.
enum Frame {
    Event {
        sequence: u64,
        kind: String,
        body: Value,
    },
    /// The last frame: why the stream ends.
    Close { reason: String },
}

/// Replays what is stored after `after`, then follows `live`, into a channel.
fn produce(
    sessions: Arc<SessionService>,
    ctx: RequestContext,
    session: SessionId,
    after: u64,
    mut live: Box<dyn Subscription>,
) -> mpsc::Receiver<Frame> {
    let (out, frames) = mpsc::channel(CLIENT_BUFFER);
    tokio::spawn(async move {
        let mut last = after;
        loop {
            let Ok(batch) = sessions.messages(&ctx, session, last, REPLAY_BATCH).await else {
                let _ = out
                    .send(Frame::Close {
                        reason: "replay failed".to_owned(),
                    })
                    .await;
                return;
            };
            let done = batch.len() < REPLAY_BATCH as usize;
            for message in batch {
                last = message.sequence_number;
                let body = json!({"kind": "message", "sequence": last, "message": MessageView::from(message)});
                if out
                    .send(Frame::Event {
                        sequence: last,
                        kind: "message".to_owned(),
                        body,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if done {
                break;
            }
        }
        follow_live(live.as_mut(), &out, last).await;
    });
    frames
}

/// Forwards live events after `last` until the subscriber lags (then a closing frame with the
/// reason and the resume point), the channel closes, or the client goes away.
async fn follow_live(live: &mut dyn Subscription, out: &mpsc::Sender<Frame>, mut last: u64) {
    loop {
        match live.next().await {
            Ok(event) => {
                let kind = event.kind();
                if kind == LiveEventKind::Message {
                    if event.sequence <= last {
                        continue;
                    }
                    last = event.sequence;
                }
                let body = json!({"kind": kind.as_str(), "sequence": event.sequence, "payload": event.payload()});
                if out
                    .send(Frame::Event {
                        sequence: event.sequence,
                        kind: kind.as_str().to_owned(),
                        body,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(SubscriptionEnd::Lagged { missed }) => {
                let reason =
                    format!("too slow: {missed} events missed; reconnect with after={last}");
                let _ = out.send(Frame::Close { reason }).await;
                return;
            }
            Err(SubscriptionEnd::Closed) => return,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/stream", tag = "sessions", responses((status = 101, description = "WebSocket (with Upgrade): JSON frames {kind, sequence, message|payload}"), (status = 200, description = "text/event-stream (without Upgrade): id = sequence, event = kind"), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id"), ("after" = Option<u64>, Query, description = "replay after this sequence number"), ("token" = Option<String>, Query, description = "a stream token instead of the Authorization header"), ("last-event-id" = Option<String>, Header, description = "SSE resume point")), security(("bearer" = [])))]
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
    let frames = produce(state.services.sessions.clone(), ctx, session, after, live);
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
                    if socket.text(body.to_string()).await.is_err() {
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
    use overseer_domain::SessionId;
    use overseer_ports::{EventBroadcaster, EventSubscriber, LiveEvent};
    use overseer_services::InProcessBroadcaster;

    use super::*;

    fn event(session: SessionId, sequence: u64) -> LiveEvent {
        LiveEvent {
            session_id: session,
            sequence,
            body: overseer_ports::LiveEventBody::Message {
                message_id: overseer_domain::MessageId::from_uuid(uuid::Uuid::now_v7()),
                message_type: overseer_domain::MessageType::Assistant,
                role: None,
                content: json!({}),
            },
        }
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_closed_with_the_reason_and_never_slows_the_publisher() {
        let broadcaster = InProcessBroadcaster::new(4);
        let session = SessionId::from_uuid(uuid::Uuid::now_v7());
        let mut live = EventSubscriber::subscribe(&broadcaster, session, 8).unwrap();
        // The run publishes far more than the subscriber's buffer while it reads nothing: the
        // publisher never waits.
        let started = std::time::Instant::now();
        for sequence in 1..=10_000 {
            broadcaster.publish(event(session, sequence));
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "publishing waited: {:?}",
            started.elapsed()
        );

        let (out, mut frames) = mpsc::channel(8);
        follow_live(live.as_mut(), &out, 0).await;
        match frames.recv().await {
            Some(Frame::Close { reason }) => {
                assert!(
                    reason.contains("too slow") && reason.contains("after=0"),
                    "{reason}"
                );
            }
            _ => panic!("expected a closing frame"),
        }
    }

    #[tokio::test]
    async fn replayed_messages_are_not_sent_twice() {
        let broadcaster = InProcessBroadcaster::new(16);
        let session = SessionId::from_uuid(uuid::Uuid::now_v7());
        let mut live = EventSubscriber::subscribe(&broadcaster, session, 8).unwrap();
        for sequence in 1..=5 {
            broadcaster.publish(event(session, sequence));
        }
        drop(broadcaster); // closes the channel once the buffered events are read
        let (out, mut frames) = mpsc::channel(16);
        follow_live(live.as_mut(), &out, 3).await;
        drop(out);
        let mut seen = Vec::new();
        while let Some(Frame::Event { sequence, .. }) = frames.recv().await {
            seen.push(sequence);
        }
        assert_eq!(seen, vec![4, 5]);
    }
}
