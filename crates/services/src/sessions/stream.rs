//! A session's events from a resume point: what is stored after it, then what happens live,
//! with nothing lost between the two and nothing twice.
//!
//! The caller subscribes first and hands the subscription in, so what is published during the
//! replay is either replayed or live. Messages replayed are skipped when they come again live
//! (by sequence number). A subscriber that falls behind the broadcast buffer ends with
//! [`StreamEnd::Lagged`] and the sequence to resume from: it never slows the run.

use std::collections::VecDeque;
use std::sync::Arc;

use overseer_domain::{Message, SessionId};
use overseer_ports::{LiveEvent, LiveEventKind, Subscription, SubscriptionEnd};

use super::SessionService;
use crate::context::RequestContext;

/// Messages read from the store at once while replaying.
const REPLAY_BATCH: u32 = 500;

/// One item of a [`SessionStream`].
#[derive(Debug)]
pub enum StreamItem {
    /// A stored message after the resume point, replayed.
    Replayed(Box<Message>),
    /// An event as it happened (a message among them once the replay is done).
    Live(LiveEvent),
    /// The last item: why the stream ends early.
    End(StreamEnd),
}

/// Why a stream ended before its subscription closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// The stored messages could not be read.
    ReplayFailed,
    /// The subscriber fell `missed` events behind; resume from `resume_after`.
    Lagged {
        /// Events lost.
        missed: u64,
        /// The last sequence delivered: resume after it.
        resume_after: u64,
    },
}

/// Replays a session's stored messages after a point, then follows its live events. Pull it
/// with [`SessionStream::next`]; nothing runs in the background.
pub struct SessionStream {
    sessions: Arc<SessionService>,
    ctx: RequestContext,
    session: SessionId,
    replaying: bool,
    buffered: VecDeque<Message>,
    live: LiveFollow,
}

impl std::fmt::Debug for SessionStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStream")
            .field("session", &self.session)
            .field("last", &self.live.last)
            .finish_non_exhaustive()
    }
}

impl SessionService {
    /// The stream of `session` after sequence `after`, following `live` (a subscription to
    /// that session taken before this call). The caller must be allowed to read the session
    /// (the replay answers [`StreamEnd::ReplayFailed`] otherwise).
    #[must_use]
    pub fn stream(
        self: &Arc<Self>,
        ctx: RequestContext,
        session: SessionId,
        after: u64,
        live: Box<dyn Subscription>,
    ) -> SessionStream {
        SessionStream {
            sessions: self.clone(),
            ctx,
            session,
            replaying: true,
            buffered: VecDeque::new(),
            live: LiveFollow {
                live,
                last: after,
                ended: false,
            },
        }
    }
}

impl SessionStream {
    /// The next item; `None` once the subscription has closed or after a [`StreamItem::End`].
    pub async fn next(&mut self) -> Option<StreamItem> {
        loop {
            if let Some(message) = self.buffered.pop_front() {
                self.live.last = message.sequence_number;
                return Some(StreamItem::Replayed(Box::new(message)));
            }
            if !self.replaying {
                break;
            }
            let Ok(batch) = self
                .sessions
                .messages(&self.ctx, self.session, self.live.last, REPLAY_BATCH)
                .await
            else {
                self.replaying = false;
                self.live.ended = true;
                return Some(StreamItem::End(StreamEnd::ReplayFailed));
            };
            self.replaying = batch.len() == REPLAY_BATCH as usize;
            self.buffered.extend(batch);
        }
        self.live.next().await
    }
}

/// Live events after `last`, skipping messages at or before it.
struct LiveFollow {
    live: Box<dyn Subscription>,
    last: u64,
    ended: bool,
}

impl LiveFollow {
    async fn next(&mut self) -> Option<StreamItem> {
        if self.ended {
            return None;
        }
        loop {
            match self.live.next().await {
                Ok(event) => {
                    if event.kind() == LiveEventKind::Message {
                        if event.sequence <= self.last {
                            continue;
                        }
                        self.last = event.sequence;
                    }
                    return Some(StreamItem::Live(event));
                }
                Err(SubscriptionEnd::Lagged { missed }) => {
                    self.ended = true;
                    return Some(StreamItem::End(StreamEnd::Lagged {
                        missed,
                        resume_after: self.last,
                    }));
                }
                Err(SubscriptionEnd::Closed) => {
                    self.ended = true;
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use overseer_ports::{EventBroadcaster, EventSubscriber, LiveEventBody};

    use super::*;
    use crate::events::broadcast::InProcessBroadcaster;

    fn event(session: SessionId, sequence: u64) -> LiveEvent {
        LiveEvent {
            session_id: session,
            sequence,
            body: LiveEventBody::Message(std::sync::Arc::new(overseer_ports::SharedMessage::new(
                overseer_domain::Message {
                    id: overseer_domain::MessageId::from_uuid(uuid::Uuid::now_v7()),
                    session_id: session,
                    message_type: overseer_domain::MessageType::Assistant,
                    role: None,
                    body: overseer_domain::MessageBody::default(),
                    sequence_number: sequence,
                    created_at: time::OffsetDateTime::UNIX_EPOCH,
                },
            ))),
        }
    }

    #[tokio::test]
    async fn a_lagging_subscriber_ends_with_the_resume_point_and_never_slows_the_publisher() {
        let broadcaster = InProcessBroadcaster::new(4);
        let session = SessionId::from_uuid(uuid::Uuid::now_v7());
        let live = EventSubscriber::subscribe(&broadcaster, session, 8).unwrap();
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
        let mut follow = LiveFollow {
            live,
            last: 0,
            ended: false,
        };
        match follow.next().await {
            Some(StreamItem::End(StreamEnd::Lagged {
                missed,
                resume_after: 0,
            })) => assert!(missed > 0),
            other => panic!("expected the end, lagged: {other:?}"),
        }
        assert!(follow.next().await.is_none(), "nothing after the end");
    }

    #[tokio::test]
    async fn messages_at_or_before_the_resume_point_are_not_sent_twice() {
        let broadcaster = InProcessBroadcaster::new(16);
        let session = SessionId::from_uuid(uuid::Uuid::now_v7());
        let live = EventSubscriber::subscribe(&broadcaster, session, 8).unwrap();
        for sequence in 1..=5 {
            broadcaster.publish(event(session, sequence));
        }
        drop(broadcaster); // closes the channel once the buffered events are read
        let mut follow = LiveFollow {
            live,
            last: 3,
            ended: false,
        };
        let mut seen = Vec::new();
        while let Some(StreamItem::Live(event)) = follow.next().await {
            seen.push(event.sequence);
        }
        assert_eq!(seen, vec![4, 5]);
    }
}
