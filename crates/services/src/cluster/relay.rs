//! Live events across nodes. A run on node A publishes its events to A's own subscribers and
//! announces a note `(session, sequence, kind)` on the [`ClusterBus`]; node B rebuilds each
//! event from the database and publishes it to B's subscribers. Notes from one node are
//! announced and rebuilt in order, so B's subscribers see A's events in order.

use std::sync::Arc;

use overseer_domain::SessionId;
use overseer_ports::{
    ClusterBus, EventBroadcaster, EventNote, LiveEvent, LiveEventBody, NoteKind, Repositories,
    Scope, StoredEvent,
};
use tokio::sync::mpsc;

use crate::cluster::link::CommandSink;
use crate::error::ServiceError;
use crate::events::live::{approval_event, message_event, status_event};

/// Most notes sent in one announcement (Postgres: one statement).
const NOTES_PER_ANNOUNCEMENT: usize = 512;

/// Publishes to this node's subscribers and announces to the other nodes.
pub struct RelayingBroadcaster {
    local: Arc<dyn EventBroadcaster>,
    notes: mpsc::UnboundedSender<EventNote>,
}

impl std::fmt::Debug for RelayingBroadcaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayingBroadcaster")
            .finish_non_exhaustive()
    }
}

impl RelayingBroadcaster {
    /// Announces on `bus` from one task, so notes leave in publishing order.
    #[must_use]
    pub fn new(local: Arc<dyn EventBroadcaster>, bus: Arc<dyn ClusterBus>) -> Self {
        let (notes, mut queue) = mpsc::unbounded_channel::<EventNote>();
        tokio::spawn(async move {
            // What queued up while the last announcement was on its way leaves together.
            let mut waiting = Vec::with_capacity(NOTES_PER_ANNOUNCEMENT);
            while queue.recv_many(&mut waiting, NOTES_PER_ANNOUNCEMENT).await > 0 {
                if let Err(err) = bus.announce_all(&waiting).await {
                    tracing::warn!(notes = waiting.len(), error = %err, "cannot announce live events");
                }
                waiting.clear();
            }
        });
        Self { local, notes }
    }
}

/// The note that lets another node rebuild `event`; `None` for events that are not stored
/// (an agent's state, a turn that could not run), which stay on their node.
fn note_of(event: &LiveEvent) -> Option<EventNote> {
    let stored = match &event.body {
        LiveEventBody::Message { .. } => StoredEvent::Message,
        LiveEventBody::Approval { approval_id, .. } => StoredEvent::Approval {
            approval_id: *approval_id,
        },
        LiveEventBody::Status { from, to, .. } => StoredEvent::Status {
            from: *from,
            to: *to,
        },
        _ => return None,
    };
    Some(EventNote::event(event.session_id, event.sequence, stored))
}

impl EventBroadcaster for RelayingBroadcaster {
    fn publish(&self, event: LiveEvent) {
        let note = note_of(&event);
        self.local.publish(event);
        if let Some(note) = note {
            // The receiver lives as long as the runtime: a send error means it is shutting
            // down.
            let _ = self.notes.send(note);
        }
    }
}

/// Starts rebuilding other nodes' events from `repos` and publishing them to `local`, and
/// passing the commands addressed to this node to `commands`; the caller owns the task.
pub fn relay_from_other_nodes(
    bus: &dyn ClusterBus,
    repos: Repositories,
    local: Arc<dyn EventBroadcaster>,
    commands: Arc<dyn CommandSink>,
) -> tokio::task::JoinHandle<()> {
    let (notes, mut queue) = mpsc::unbounded_channel::<EventNote>();
    bus.listen(Arc::new(move |note| {
        let _ = notes.send(note);
    }));
    tokio::spawn(async move {
        while let Some(note) = queue.recv().await {
            if !note.concerns(commands.node()) {
                continue;
            }
            let stored = match note.kind {
                NoteKind::Event(stored) => stored,
                NoteKind::Command { command, .. } => {
                    commands
                        .execute(note.session_id, note.sequence, command)
                        .await;
                    continue;
                }
            };
            match rebuild(&repos, note.session_id, note.sequence, stored).await {
                Ok(Some(event)) => local.publish(event),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(session = %note.session_id, error = %err, "cannot rebuild a live event");
                }
            }
        }
    })
}

/// The event a note points to, read from the database (`None`: gone).
async fn rebuild(
    repos: &Repositories,
    session: SessionId,
    sequence: u64,
    stored: StoredEvent,
) -> Result<Option<LiveEvent>, ServiceError> {
    match stored {
        StoredEvent::Message => {
            let after = sequence.saturating_sub(1);
            let found = repos.messages.list_after(session, after, 1).await?;
            Ok(found
                .first()
                .filter(|m| m.sequence_number == sequence)
                .map(message_event))
        }
        StoredEvent::Approval { approval_id } => {
            let approval = repos.approvals.get(approval_id, Scope::Admin).await?;
            Ok(Some(approval_event(&approval, sequence, None)))
        }
        StoredEvent::Status { from, to } => {
            let session_row = repos.sessions.get(session, Scope::Admin).await?;
            Ok(Some(status_event(
                session,
                sequence,
                from,
                to,
                session_row.error_message.as_deref(),
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use overseer_domain::{MessageId, MessageRole, MessageType, NewMessage, SessionStatus};
    use overseer_ports::{Command, MockClusterBus};
    use overseer_testkit::{MemoryStore, fixtures};
    use serde_json::json;

    use super::*;
    use crate::events::broadcast::InProcessBroadcaster;

    struct NoCommands;

    #[async_trait::async_trait]
    impl CommandSink for NoCommands {
        fn node(&self) -> &str {
            "node-b"
        }

        async fn execute(&self, session: SessionId, _: u64, command: Command) {
            panic!("no command expected: {command:?} for {session}");
        }
    }

    /// Node A's broadcaster announces on a bus whose notes node B's relay receives.
    #[tokio::test]
    async fn another_nodes_events_are_rebuilt_from_the_database_in_order() {
        let repos = MemoryStore::new().repositories();
        let owner = fixtures::user("a@example.com");
        repos.users.insert(&owner).await.unwrap();
        let session = fixtures::session(owner.id, fixtures::EPOCH);
        repos.sessions.insert(&session).await.unwrap();

        // The wire: A's announcements go straight to B's handler.
        let handler: Arc<Mutex<Option<overseer_ports::NoteHandler>>> = Arc::default();
        let mut bus_b = MockClusterBus::new();
        let slot = handler.clone();
        bus_b
            .expect_listen()
            .returning(move |h| *slot.lock().unwrap() = Some(h));
        let mut bus_a = MockClusterBus::new();
        let wire = handler.clone();
        bus_a.expect_announce_all().returning(move |notes| {
            for note in notes {
                (wire.lock().unwrap().as_ref().unwrap())(note.clone());
            }
            Ok(())
        });

        let b_local = Arc::new(InProcessBroadcaster::default());
        let mut b_events = b_local.subscribe(session.id);
        relay_from_other_nodes(&bus_b, repos.clone(), b_local.clone(), Arc::new(NoCommands));
        let a_local = Arc::new(InProcessBroadcaster::default());
        let a = RelayingBroadcaster::new(a_local, Arc::new(bus_a));

        for text in ["one", "two", "three"] {
            let message = repos
                .messages
                .append(NewMessage {
                    id: MessageId::from_uuid(fixtures::id()),
                    session_id: session.id,
                    message_type: MessageType::Assistant,
                    role: Some(MessageRole::Assistant),
                    body: overseer_domain::MessageBody {
                        blocks: vec![overseer_domain::ContentBlock::Text { text: text.into() }],
                        ..Default::default()
                    },
                    created_at: fixtures::EPOCH,
                })
                .await
                .unwrap();
            a.publish(message_event(&message));
        }
        a.publish(status_event(
            session.id,
            3,
            SessionStatus::Processing,
            SessionStatus::Active,
            None,
        ));
        for (sequence, text) in [(1, "one"), (2, "two"), (3, "three")] {
            let event = b_events.recv().await.unwrap();
            assert_eq!(
                (event.kind().as_str(), event.sequence),
                ("message", sequence)
            );
            assert_eq!(event.payload()["blocks"][0]["text"], json!(text));
        }
        let status = b_events.recv().await.unwrap();
        assert_eq!(status.kind().as_str(), "status");
        assert_eq!(status.payload()["to"], json!("active"));
    }
}
