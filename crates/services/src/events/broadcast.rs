//! The in-process event broadcaster: one tokio broadcast channel per session with subscribers.
//! A subscriber that falls behind loses events (and learns it from `RecvError::Lagged`); the
//! publisher never waits.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use overseer_domain::SessionId;
pub use overseer_ports::SubscribersFull;
use overseer_ports::{EventBroadcaster, EventSubscriber, LiveEvent, Subscription, SubscriptionEnd};
use tokio::sync::broadcast;

/// Live events within this process: publishing never waits; a subscriber that falls behind its buffer is told how many it missed.
#[derive(Debug)]
pub struct InProcessBroadcaster {
    channels: Mutex<HashMap<SessionId, broadcast::Sender<LiveEvent>>>,
    capacity: usize,
}

impl InProcessBroadcaster {
    /// A broadcaster whose subscribers each buffer `capacity` events.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            channels: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// As [`Self::subscribe`], unless the session already has `max` subscribers.
    ///
    /// # Errors
    /// [`SubscribersFull`] with the cap.
    pub fn subscribe_within(
        &self,
        session: SessionId,
        max: usize,
    ) -> Result<broadcast::Receiver<LiveEvent>, SubscribersFull> {
        // Counted and taken under the same lock: racing subscribers cannot both pass.
        self.with_sender(session, |sender| {
            if sender.receiver_count() >= max {
                return Err(SubscribersFull { max });
            }
            Ok(sender.subscribe())
        })
    }

    /// Receives the session's events published from now on.
    pub fn subscribe(&self, session: SessionId) -> broadcast::Receiver<LiveEvent> {
        self.with_sender(session, broadcast::Sender::subscribe)
    }

    /// Runs `f` on the session's channel (created if it has none), under the channels' lock.
    fn with_sender<T>(
        &self,
        session: SessionId,
        f: impl FnOnce(&broadcast::Sender<LiveEvent>) -> T,
    ) -> T {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        f(channels
            .entry(session)
            .or_insert_with(|| broadcast::channel(self.capacity).0))
    }
}

impl Default for InProcessBroadcaster {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl EventSubscriber for InProcessBroadcaster {
    fn subscribe(
        &self,
        session: SessionId,
        max: usize,
    ) -> Result<Box<dyn Subscription>, SubscribersFull> {
        self.subscribe_within(session, max)
            .map(|receiver| Box::new(ChannelSubscription(receiver)) as Box<dyn Subscription>)
    }
}

/// A subscription over the session's broadcast channel.
struct ChannelSubscription(broadcast::Receiver<LiveEvent>);

#[async_trait]
impl Subscription for ChannelSubscription {
    async fn next(&mut self) -> Result<LiveEvent, SubscriptionEnd> {
        self.0.recv().await.map_err(|err| match err {
            broadcast::error::RecvError::Lagged(missed) => SubscriptionEnd::Lagged { missed },
            broadcast::error::RecvError::Closed => SubscriptionEnd::Closed,
        })
    }
}

impl EventBroadcaster for InProcessBroadcaster {
    fn publish(&self, event: LiveEvent) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let nobody_listens = channels
            .get(&event.session_id)
            .is_some_and(|sender| sender.send(event.clone()).is_err());
        if nobody_listens {
            channels.remove(&event.session_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every subscriber gets the event; the message (and its frame) is shared, not copied for
    /// each of them (benchmark (d): 100 subscribers).
    #[tokio::test]
    async fn subscribers_share_one_message() {
        let broadcaster = InProcessBroadcaster::default();
        let session = SessionId::from_uuid(uuid::Uuid::now_v7());
        let mut first = broadcaster.subscribe(session);
        let mut second = broadcaster.subscribe(session);
        let message = overseer_domain::Message {
            id: overseer_domain::MessageId::from_uuid(uuid::Uuid::now_v7()),
            session_id: session,
            message_type: overseer_domain::MessageType::Assistant,
            role: None,
            body: overseer_domain::MessageBody {
                raw: serde_json::json!({"type": "assistant"}),
                ..Default::default()
            },
            sequence_number: 1,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        broadcaster.publish(crate::events::live::message_event(message));
        let (a, b) = (first.recv().await.unwrap(), second.recv().await.unwrap());
        let (overseer_ports::LiveEventBody::Message(a), overseer_ports::LiveEventBody::Message(b)) =
            (a.body, b.body)
        else {
            panic!("message events")
        };
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        assert_eq!(a.body.raw, serde_json::json!({"type": "assistant"}));
        // Its payload text is rendered once for every subscriber.
        assert!(std::sync::Arc::ptr_eq(&a.payload_text(), &b.payload_text()));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&a.payload_text()).unwrap(),
            overseer_ports::message_payload(&a)
        );
    }

    #[test]
    fn subscribers_beyond_the_cap_are_refused_until_one_leaves() {
        let broadcaster = InProcessBroadcaster::default();
        let session = SessionId::from_uuid(uuid::Uuid::now_v7());
        let first = broadcaster.subscribe_within(session, 2).unwrap();
        let _second = broadcaster.subscribe_within(session, 2).unwrap();
        assert_eq!(
            broadcaster.subscribe_within(session, 2).unwrap_err(),
            SubscribersFull { max: 2 }
        );
        let other = SessionId::from_uuid(uuid::Uuid::now_v7());
        assert!(
            broadcaster.subscribe_within(other, 2).is_ok(),
            "per session"
        );
        drop(first);
        assert!(broadcaster.subscribe_within(session, 2).is_ok());
    }
}
