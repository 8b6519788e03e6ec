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

pub async fn table(
    backend: &str,
    database_url: &str,
    runs: &[String],
    bare: &[Sample],
    totals: &[Duration],
) -> String {
    let store = overseer_store::Store::connect(database_url)
        .await
        .expect("open the server's database");
    let repos = store.repositories();
    let (mut setup, mut start, mut turn, mut finish) = (vec![], vec![], vec![], vec![]);
    let mut first_event = vec![];
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
        let (user, result) = (stored(MessageType::User), stored(MessageType::Result));
        // The CLI's first event is its `system` init frame, printed once it has the prompt.
        first_event.push(between(execution.created_at, stored(MessageType::System)));
        let started = execution.started_at.unwrap();
        setup.push(between(execution.created_at, started));
        start.push(between(started, user));
        turn.push(between(user, result));
        finish.push(between(result, execution.completed_at.unwrap()));
    }
    let bare_init: Vec<Duration> = bare.iter().map(|s| s.init).collect();
    let bare_turn: Vec<Duration> = bare.iter().map(|s| s.turn - s.init).collect();
    let stored_total = median(&setup) + median(&start) + median(&turn) + median(&finish);
    format!(
        "\n| {backend}: where the time goes (medians) | bare CLI | Overseer |\n|---|---|---|\n\
         | request → run claimed, session and working directory ready | — | {} |\n\
         | agent start (spawn, initialize; until the prompt is stored) | {} | {} |\n\
         | the turn (prompt → result) | {} | {} |\n\
         | result → execution `completed` | — | {} |\n\
         | client's view beyond the stored timestamps (HTTP, wait) | — | {} |\n\
         | execute → the agent's first event stored (no warm pool) | — | {} |\n",
        ms(median(&setup)),
        ms(median(&bare_init)),
        ms(median(&start)),
        ms(median(&bare_turn)),
        ms(median(&turn)),
        ms(median(&finish)),
        ms(median(totals).saturating_sub(stored_total)),
        ms(median(&first_event)),
    )
}
