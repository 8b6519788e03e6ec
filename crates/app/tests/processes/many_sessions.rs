//! Interactive sessions beyond `--max-live-agents`: a session that needs an agent while every
//! slot is held by an idle one closes the least recently used agent at once, so eight sessions
//! on two slots are all answered about as fast as four waves of turns, never after an idle
//! timeout; and a hibernated session resumes its conversation on its next message.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::script::{Reply, Script};
use serde_json::{Value, json};

use overseer_testkit::processes::agent_groups_under;

use crate::node::{Node, temp_dir};

async fn create_session(api: &Api, name: &str) -> String {
    let (status, session) = api
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": name, "sdk_options": {"max_turns": 2}})),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    session["id"].as_str().unwrap().to_owned()
}

/// Waits until the session has stored `results` turn results; the last one's text.
async fn answered(api: &Api, session: &str, results: usize, within: Duration) -> String {
    let done = api
        .poll(
            &format!("/api/v1/sessions/{session}/messages?limit=1000"),
            within,
            |page| of_type(page, "result").count() >= results,
        )
        .await;
    of_type(&done, "assistant")
        .filter_map(|m| m["blocks"][0]["text"].as_str())
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// The page's messages of type `kind`.
fn of_type<'a>(page: &'a Value, kind: &'a str) -> impl Iterator<Item = &'a Value> {
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |m| m["message_type"] == kind)
}

/// The most agents seen at once, and which (group, command line).
type Peak = (usize, Vec<(u32, String)>);

/// Samples the live CLIs under a directory on a thread of its own until finished (or
/// dropped, so a failing test does not hang on it).
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Peak>>,
}

impl Sampler {
    fn start(dir: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let most = AtomicUsize::new(0);
            let mut seen = Vec::new();
            while !stopped.load(Ordering::SeqCst) {
                let now = agent_groups_under(&dir);
                if now.len() > most.fetch_max(now.len(), Ordering::SeqCst) {
                    seen = now;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (most.load(Ordering::SeqCst), seen)
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// The most agents seen at once, and which.
    fn finish(mut self) -> Peak {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_sessions_on_two_slots_are_all_answered_without_waiting_for_an_idle_timeout() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let api = FakeAnthropic::start().await;
    api.script(Script::new("calibrate", vec![Reply::text("Calibrated.")]));
    for n in 0..8 {
        api.script(Script::new(
            &format!("conversation-{n}:"),
            vec![
                Reply::text(&format!("Noted, {n}.")),
                Reply::text("You told me the colour."),
            ],
        ));
    }
    let data_dir = temp_dir("many-sessions");
    let node = Node::start(
        &data_dir,
        None,
        &cli,
        &api,
        // The default idle timeout (300 s): today's code waits for it.
        &["--max-live-agents", "2", "--agent-sandbox", "off"],
    )
    .await;
    let alice = Api::sign_up(&node.base, "alice@example.com").await;

    // One turn alone, agent start included: the unit the bound is made of.
    let calibration = create_session(&alice, "calibration").await;
    let started = Instant::now();
    alice.send_message(&calibration, "calibrate").await;
    answered(&alice, &calibration, 1, Duration::from_secs(60)).await;
    let one_turn = started.elapsed().max(Duration::from_secs(1));

    let sampler = Sampler::start(data_dir.clone());
    let mut sessions = Vec::new();
    for n in 0..8 {
        sessions.push(create_session(&alice, &format!("conversation {n}")).await);
    }
    let started = Instant::now();
    for (n, session) in sessions.iter().enumerate() {
        alice
            .send_message(
                session,
                &format!("conversation-{n}: my favourite colour is colour-{n}"),
            )
            .await;
    }
    // Two slots, eight sessions: four waves of one turn each, with room for a loaded machine.
    let bound = one_turn * 4 * 3 + Duration::from_secs(20);
    for (n, session) in sessions.iter().enumerate() {
        let text = answered(&alice, session, 1, bound.saturating_sub(started.elapsed())).await;
        assert_eq!(text, format!("Noted, {n}."));
    }
    let all_answered = started.elapsed();
    assert!(
        all_answered < bound,
        "8 sessions took {all_answered:?}, beyond {bound:?} (one turn: {one_turn:?})"
    );

    // The first session's agent hibernated long ago; its next message resumes it.
    let (_, first) = alice
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{}", sessions[0]),
            None,
        )
        .await;
    assert_eq!(first["agent_state"], "hibernated", "{first}");
    alice
        .send_message(&sessions[0], "which colour did I name?")
        .await;
    let text = answered(&alice, &sessions[0], 2, Duration::from_secs(60)).await;
    assert_eq!(text, "You told me the colour.");
    let last_call = api
        .requests_for("conversation-0:")
        .pop()
        .unwrap()
        .to_string();
    assert!(
        last_call.contains("colour-0") && last_call.contains("which colour did I name?"),
        "the resumed agent sent the earlier turn: {last_call}"
    );

    let (most, seen) = sampler.finish();
    assert!(
        most <= 2,
        "{most} CLIs were alive at once with --max-live-agents 2: {seen:#?}"
    );
    assert_eq!(most, 2, "two agents worked at once");

    let mut states = Vec::new();
    for session in &sessions {
        let (_, view) = alice
            .json(Method::GET, &format!("/api/v1/sessions/{session}"), None)
            .await;
        states.push(view["agent_state"].as_str().unwrap_or_default().to_owned());
    }
    let live = states.iter().filter(|s| *s == "live").count();
    assert!(live <= 2, "{states:?}");
    assert_eq!(
        states.iter().filter(|s| *s == "hibernated").count(),
        8 - live,
        "{states:?}"
    );
    println!(
        "one turn {one_turn:?}; 8 sessions on 2 slots answered in {all_answered:?}; at most {most} CLIs"
    );
}
