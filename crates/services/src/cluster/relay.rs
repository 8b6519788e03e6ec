//! Live events across nodes. A run on node A publishes its events to A's own subscribers and
//! announces a note `(session, sequence, kind)` on the [`ClusterBus`]; node B rebuilds each
//! event from the database and publishes it to B's subscribers. Notes from one node are
//! announced and rebuilt in order, so B's subscribers see A's events in order. Consecutive
//! messages of a session that wait to be announced together leave as one note, and B reads
//! them back with one query.

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
/// Most messages read back in one query when rebuilding a run of messages.
const MESSAGES_PER_READ: u32 = 512;

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
                coalesce(&mut waiting);
                if let Err(err) = bus.announce_all(&waiting).await {
                    tracing::warn!(notes = waiting.len(), error = %err, "cannot announce live events");
                }
                waiting.clear();
            }
        });
        Self { local, notes }
    }
}

/// Merges each run of message notes of one session with consecutive sequences into one note,
/// keeping the order of everything else.
fn coalesce(notes: &mut Vec<EventNote>) {
    notes.dedup_by(|next, run| {
        let (
            NoteKind::Event(StoredEvent::Messages { through: last }),
            NoteKind::Event(StoredEvent::Messages { through: next_last }),
        ) = (&mut run.kind, &next.kind)
        else {
            return false;
        };
        if next.session_id != run.session_id || next.sequence != *last + 1 {
            return false;
        }
        *last = *next_last;
        true
    });
}

/// The note that lets another node rebuild `event`; `None` for events that are not stored
/// (an agent's state, a turn that could not run), which stay on their node.
fn note_of(event: &LiveEvent) -> Option<EventNote> {
    let stored = match &event.body {
        LiveEventBody::Message { .. } => StoredEvent::Messages {
            through: event.sequence,
        },
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
                Ok(events) => events.into_iter().for_each(|event| local.publish(event)),
                Err(err) => {
                    tracing::warn!(session = %note.session_id, error = %err, "cannot rebuild a live event");
                }
            }
        }
    })
}

/// The events a note points to, read from the database, in order (none: gone).
async fn rebuild(
    repos: &Repositories,
    session: SessionId,
    sequence: u64,
    stored: StoredEvent,
) -> Result<Vec<LiveEvent>, ServiceError> {
    match stored {
        StoredEvent::Messages { through } => {
            let mut events = Vec::new();
            let mut after = sequence.saturating_sub(1);
            // Bounded pages, whatever length the note claims.
            while after < through {
                let wanted = u32::try_from(through - after)
                    .map_or(MESSAGES_PER_READ, |n| n.min(MESSAGES_PER_READ));
                let page = repos.messages.list_after(session, after, wanted).await?;
                let Some(last) = page.last() else { break };
                after = last.sequence_number;
                events.extend(
                    page.into_iter()
                        .filter(|m| m.sequence_number <= through)
                        .map(message_event),
                );
            }
            Ok(events)
        }
        StoredEvent::Approval { approval_id } => {
            let approval = repos.approvals.get(approval_id, Scope::Admin).await?;
            Ok(vec![approval_event(&approval, sequence, None)])
        }
        StoredEvent::Status { from, to } => {
            let session_row = repos.sessions.get(session, Scope::Admin).await?;
            Ok(vec![status_event(
                session,
                sequence,
                from,
                to,
                session_row.error_message.as_deref(),
            )])
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

    async fn one_session() -> (Repositories, overseer_domain::Session) {
        let repos = MemoryStore::new().repositories();
        let owner = fixtures::user("a@example.com");
        repos.users.insert(&owner).await.unwrap();
        let session = fixtures::session(owner.id, fixtures::EPOCH);
        repos.sessions.insert(&session).await.unwrap();
        (repos, session)
    }

    #[test]
    fn consecutive_messages_of_a_session_become_one_note_and_nothing_else_moves() {
        let (s1, s2) = (
            SessionId::from_uuid(fixtures::id()),
            SessionId::from_uuid(fixtures::id()),
        );
        let message = |session, sequence| {
            EventNote::event(
                session,
                sequence,
                StoredEvent::Messages { through: sequence },
            )
        };
        let status = EventNote::event(
            s1,
            4,
            StoredEvent::Status {
                from: SessionStatus::Processing,
                to: SessionStatus::Active,
            },
        );
        let interrupt = EventNote::command(s1, 0, Command::Interrupt, None);
        let mut notes = vec![
            message(s1, 1),
            message(s1, 2),
            message(s1, 3),
            status.clone(),
            message(s1, 5),
            message(s2, 1),
            message(s1, 6),
            message(s1, 8),
            interrupt.clone(),
            message(s1, 9),
            message(s1, 10),
        ];
        coalesce(&mut notes);
        let run = |session, sequence, through| {
            EventNote::event(session, sequence, StoredEvent::Messages { through })
        };
        assert_eq!(
            notes,
            vec![
                run(s1, 1, 3),
                status,
                run(s1, 5, 5),
                run(s2, 1, 1),
                run(s1, 6, 6),
                run(s1, 8, 8),
                interrupt,
                run(s1, 9, 10),
            ]
        );
    }

    /// A note for a run longer than one read is rebuilt page by page, in order, and only
    /// the run's messages.
    #[tokio::test]
    async fn a_run_of_messages_is_rebuilt_in_order_whatever_its_length() {
        let (repos, session) = one_session().await;
        let drafts = (0..1_300)
            .map(|n| NewMessage {
                id: MessageId::from_uuid(fixtures::id()),
                session_id: session.id,
                message_type: MessageType::Assistant,
                role: Some(MessageRole::Assistant),
                body: overseer_domain::MessageBody {
                    blocks: vec![overseer_domain::ContentBlock::Text {
                        text: format!("m{n}"),
                    }],
                    ..Default::default()
                },
                created_at: fixtures::EPOCH,
            })
            .collect();
        repos
            .messages
            .append_with(session.id, drafts, &[])
            .await
            .unwrap();

        let events = rebuild(
            &repos,
            session.id,
            2,
            StoredEvent::Messages { through: 1_200 },
        )
        .await
        .unwrap();
        let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, (2..=1_200).collect::<Vec<_>>());
        assert_eq!(events[0].payload()["blocks"][0]["text"], json!("m1"));
        // A run past the end yields what exists.
        let tail = rebuild(
            &repos,
            session.id,
            1_299,
            StoredEvent::Messages { through: 5_000 },
        )
        .await
        .unwrap();
        assert_eq!(
            tail.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            [1_299, 1_300]
        );
    }

    /// Node A's broadcaster announces on a bus whose notes node B's relay receives.
    #[tokio::test]
    async fn another_nodes_events_are_rebuilt_from_the_database_in_order() {
        let (repos, session) = one_session().await;

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
            a.publish(message_event(message));
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
