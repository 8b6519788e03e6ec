//! Where an execution's time goes, read back from the rows it left: setup (HTTP, queue,
//! session), agent start (spawn + initialize, until the prompt is stored), the turn, and the
//! finish (until `completed`). The bare CLI's own start and turn stand beside them.

use std::time::Duration;

use overseer_domain::{ExecutionId, MessageType};
use overseer_ports::Scope;
use time::OffsetDateTime;

use crate::bare::Sample;
use crate::stats::{median, ms};

fn between(from: OffsetDateTime, to: OffsetDateTime) -> Duration {
    Duration::try_from(to - from).unwrap_or_default()
}

/// When one run's steps happened, from the rows it left.
pub struct Stamps {
    created: OffsetDateTime,
    started: OffsetDateTime,
    /// The prompt stored: the agent has started.
    prompt: OffsetDateTime,
    /// The CLI's first event is its `system` init frame, printed once it has the prompt.
    first_event: OffsetDateTime,
    result: OffsetDateTime,
    completed: OffsetDateTime,
}

impl Stamps {
    /// Execute → the agent's first event stored.
    pub fn to_first_event(&self) -> Duration {
        between(self.created, self.first_event)
    }
}

/// The [`Stamps`] of `runs` (execution ids), read from the server's database.
pub async fn stamps(database_url: &str, runs: &[String]) -> Vec<Stamps> {
    let store = overseer_store::Store::connect(database_url)
        .await
        .expect("open the server's database");
    let repos = store.repositories();
    let mut all = Vec::new();
    for run in runs {
        let execution = repos
            .executions
            .get(run.parse::<ExecutionId>().unwrap(), Scope::Admin)
            .await
            .unwrap();
        let messages = repos
            .messages
            .list_after(execution.session_id.unwrap(), 0, 1000)
            .await
            .unwrap();
        let stored = |kind: MessageType| {
            messages
                .iter()
                .find(|m| m.message_type == kind)
                .map(|m| m.created_at)
                .unwrap()
        };
        all.push(Stamps {
            created: execution.created_at,
            started: execution.started_at.unwrap(),
            prompt: stored(MessageType::User),
            first_event: stored(MessageType::System),
            result: stored(MessageType::Result),
            completed: execution.completed_at.unwrap(),
        });
    }
    all
}

pub async fn table(
    backend: &str,
    database_url: &str,
    runs: &[String],
    bare: &[Sample],
    totals: &[Duration],
) -> String {
    let runs = stamps(database_url, runs).await;
    let span = |from: fn(&Stamps) -> OffsetDateTime, to: fn(&Stamps) -> OffsetDateTime| {
        median(
            &runs
                .iter()
                .map(|r| between(from(r), to(r)))
                .collect::<Vec<_>>(),
        )
    };
    let setup = span(|r| r.created, |r| r.started);
    let start = span(|r| r.started, |r| r.prompt);
    let turn = span(|r| r.prompt, |r| r.result);
    let finish = span(|r| r.result, |r| r.completed);
    let first_event = span(|r| r.created, |r| r.first_event);
    let bare_init: Vec<Duration> = bare.iter().map(|s| s.init).collect();
    let bare_turn: Vec<Duration> = bare.iter().map(|s| s.turn - s.init).collect();
    let stored_total = setup + start + turn + finish;
    format!(
        "\n| {backend}: where the time goes (medians) | bare CLI | Overseer |\n|---|---|---|\n\
         | request → run claimed, session and working directory ready | — | {} |\n\
         | agent start (spawn, initialize; until the prompt is stored) | {} | {} |\n\
         | the turn (prompt → result) | {} | {} |\n\
         | result → execution `completed` | — | {} |\n\
         | client's view beyond the stored timestamps (HTTP, wait) | — | {} |\n\
         | execute → the agent's first event stored (no warm pool) | — | {} |\n",
        ms(setup),
        ms(median(&bare_init)),
        ms(start),
        ms(median(&bare_turn)),
        ms(turn),
        ms(finish),
        ms(median(totals).saturating_sub(stored_total)),
        ms(first_event),
    )
}
