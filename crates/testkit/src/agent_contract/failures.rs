//! The runner contract's failure cases: a crash, a hung or garbled agent, an API error, a
//! dropped session. Each ends cleanly, with the cause named and no process left behind.

use std::time::{Duration, Instant};

use overseer_domain::AgentOptions;
use overseer_ports::agent::{AgentCallbacks, AgentEvent};

use super::cases::{assert_no_process_left, collect_turn, observed, turn_result};
use super::harness::AgentHarness;
use super::recorders::CallLog;
use crate::processes::processes_in_group;
use crate::script::{Reply, Script, long_running_command};

/// 7. A crash mid-turn gives an error event within 1 s; after close no process of it remains.
pub async fn crash_mid_turn_is_reported_and_leaves_no_process(h: &AgentHarness) {
    let log = CallLog::default();
    let replies = if h.is_fake_cli() {
        vec![Reply::Crash { exit_code: 3 }]
    } else {
        vec![Reply::bash(&long_running_command(30))]
    };
    h.script(Script::new("case-crash", replies));
    let session = h
        .runner
        .start(h.spec("crash", AgentOptions::default()), observed(&log))
        .await
        .expect("start");
    let pid = session.process_id().expect("a live process");
    session
        .send_message("case-crash: do something")
        .await
        .expect("send");
    let crashed = Instant::now();
    if !h.is_fake_cli() {
        // The real CLI cannot be told to crash: kill it while its tool runs.
        AgentHarness::eventually(Duration::from_secs(30), "the tool to start", || {
            log.contains("pre:Bash")
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let raw = i32::try_from(pid).expect("pid");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(raw),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill");
    }
    let failure = loop {
        let event = tokio::time::timeout(Duration::from_secs(10), session.next_event())
            .await
            .expect("an event after the crash");
        match event {
            Some(AgentEvent::Failed(failure)) => break failure,
            Some(_) => {}
            None => panic!("the session ended without a failure event"),
        }
    };
    let reported_after = crashed.elapsed();
    assert!(
        reported_after < Duration::from_secs(if h.is_fake_cli() { 1 } else { 2 }),
        "reported after {reported_after:?}"
    );
    if h.is_fake_cli() {
        assert_eq!(failure.exit_code, Some(3));
        assert!(
            failure.stderr_tail.contains("scripted crash"),
            "{failure:?}"
        );
    }
    assert!(
        session.send_message("again").await.is_err(),
        "a dead session refuses messages"
    );
    session.close().await.expect("close");
    assert_no_process_left(pid).await;
}

/// After a normal close, neither the CLI nor anything it started is left running.
pub async fn close_leaves_no_process(h: &AgentHarness) {
    h.script(Script::new("case-close", vec![Reply::text("Bye.")]));
    let session = h
        .runner
        .start(
            h.spec("close", AgentOptions::default()),
            AgentCallbacks::default(),
        )
        .await
        .expect("start");
    let pid = session.process_id().expect("a live process");
    assert!(!processes_in_group(pid).is_empty());
    session
        .send_message("case-close: say bye")
        .await
        .expect("send");
    collect_turn(session.as_ref()).await;
    session.close().await.expect("close");
    session.close().await.expect("close is idempotent");
    assert!(session.process_id().is_none());
    assert_no_process_left(pid).await;
    assert!(
        session.next_event().await.is_none(),
        "no failure event after a requested close"
    );
}

/// An API failure ends the turn with `is_error` and the status, and the session survives.
pub async fn api_error_ends_the_turn_with_is_error(h: &AgentHarness) {
    h.script(Script::new(
        "case-api-error",
        vec![Reply::ApiError { status: 500 }],
    ));
    let session = h
        .runner
        .start(
            h.spec("api-error", AgentOptions::default()),
            AgentCallbacks::default(),
        )
        .await
        .expect("start");
    session
        .send_message("case-api-error: hello")
        .await
        .expect("send");
    let events = collect_turn(session.as_ref()).await;
    let result = turn_result(&events);
    assert!(result.is_error, "{events:#?}");
    assert_eq!(result.api_error_status, Some(500));
    session.close().await.expect("close");
}

/// Fake CLI only: runs a turn whose script injects `fault` and returns the failure reported.
async fn failure_from(
    h: &AgentHarness,
    marker: &str,
    fault: Reply,
) -> (overseer_ports::agent::AgentFailure, u32, Duration) {
    assert!(h.is_fake_cli(), "faults are injected by the fake CLI");
    h.script(Script::new(marker, vec![fault]));
    let session = h
        .runner
        .start(
            h.spec(marker, AgentOptions::default()),
            AgentCallbacks::default(),
        )
        .await
        .expect("start");
    let pid = session.process_id().expect("pid");
    let started = Instant::now();
    session
        .send_message(&format!("{marker}: go"))
        .await
        .expect("send");
    let events = collect_turn(session.as_ref()).await;
    let took = started.elapsed();
    let Some(AgentEvent::Failed(failure)) = events.last().cloned() else {
        panic!("expected a failure event: {events:#?}");
    };
    session.close().await.expect("close");
    assert_no_process_left(pid).await;
    (failure, pid, took)
}

/// A line that is not JSON fails the session cleanly, naming the cause.
pub async fn garbage_output_fails_the_session(h: &AgentHarness) {
    let (failure, _, took) = failure_from(h, "case-garbage", Reply::Garbage).await;
    assert!(failure.message.contains("not JSON"), "{failure:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// A 20 MiB line (over the 16 MiB cap) fails the session cleanly.
pub async fn oversized_line_fails_the_session(h: &AgentHarness) {
    let (failure, _, _) = failure_from(
        h,
        "case-huge",
        Reply::HugeLine {
            bytes: 20 * 1024 * 1024,
        },
    )
    .await;
    assert!(failure.message.contains("over"), "{failure:?}");
}

/// An agent that stops answering is killed by `close` after the grace period; nothing hangs.
pub async fn hung_agent_is_killed_on_close(h: &AgentHarness) {
    assert!(h.is_fake_cli(), "a hang is injected by the fake CLI");
    h.script(Script::new("case-hang", vec![Reply::Hang]));
    let session = h
        .runner
        .start(
            h.spec("hang", AgentOptions::default()),
            AgentCallbacks::default(),
        )
        .await
        .expect("start");
    let pid = session.process_id().expect("pid");
    session.send_message("case-hang: go").await.expect("send");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let closing = Instant::now();
    tokio::time::timeout(Duration::from_secs(30), session.close())
        .await
        .expect("close returns")
        .expect("close");
    assert!(
        closing.elapsed() < Duration::from_secs(10),
        "close took {:?}",
        closing.elapsed()
    );
    assert_no_process_left(pid).await;
}

/// Dropping a session without closing it kills its process group.
pub async fn dropping_a_session_kills_its_process(h: &AgentHarness) {
    h.script(Script::new(
        "case-drop",
        vec![Reply::bash(&long_running_command(30)), Reply::text("never")],
    ));
    let log = CallLog::default();
    let session = h
        .runner
        .start(h.spec("drop", AgentOptions::default()), observed(&log))
        .await
        .expect("start");
    let pid = session.process_id().expect("pid");
    session
        .send_message("case-drop: sleep")
        .await
        .expect("send");
    AgentHarness::eventually(Duration::from_secs(30), "the tool to start", || {
        log.contains("pre:Bash")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(session);
    assert_no_process_left(pid).await;
}
