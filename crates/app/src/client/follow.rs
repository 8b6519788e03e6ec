//! Following a session's live stream (server-sent events, resumed with `?after=` when the
//! connection drops) and a task run to its end.

use std::time::Duration;

use eventsource_stream::Eventsource as _;
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::ClientError;
use super::connection::Connection;
use super::render::message_lines;

/// Execution statuses after which nothing changes.
const ENDED: [&str; 3] = ["completed", "failed", "cancelled"];

/// Prints messages as they come: lines for people, one JSON object per line with `--json`.
pub struct Printer {
    json: bool,
    spinner: ProgressBar,
    /// The sequence of the last message printed.
    pub after: u64,
}

impl Printer {
    /// A printer; the spinner shows only on a terminal and never with `--json`.
    pub fn new(json: bool) -> Self {
        let spinner = if json {
            ProgressBar::hidden()
        } else {
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.enable_steady_tick(Duration::from_millis(120));
            spinner
        };
        Self {
            json,
            spinner,
            after: 0,
        }
    }

    /// Shows what the run is doing beside the spinner.
    pub fn progress(&self, message: String) {
        self.spinner.set_message(message);
    }

    /// Prints `message` (a message view) numbered `sequence`, once.
    pub fn message(&mut self, sequence: u64, message: &Value) {
        if sequence <= self.after {
            return;
        }
        self.after = sequence;
        if self.json {
            println!(
                "{}",
                serde_json::json!({"kind": "message", "sequence": sequence, "message": message})
            );
            return;
        }
        self.print(&message_lines(message).join("\n"));
    }

    /// Prints an event that is not a message (approval, status, …).
    pub fn event(&self, kind: &str, payload: &Value) {
        if self.json {
            println!("{}", serde_json::json!({"kind": kind, "payload": payload}));
            return;
        }
        match kind {
            "approval" => self.print(&format!(
                "⏸ waiting for approval of {} ({}): overseer approve {}",
                payload["tool_name"].as_str().unwrap_or_default(),
                payload["approval_id"].as_str().unwrap_or_default(),
                payload["approval_id"].as_str().unwrap_or_default()
            )),
            "turn_failed" => self.print(&format!(
                "✗ {}",
                payload["reason"].as_str().unwrap_or_default()
            )),
            _ => {}
        }
    }

    /// Prints `text` on standard output, with the spinner (on standard error) out of the way.
    fn print(&self, text: &str) {
        if !text.is_empty() {
            self.spinner.suspend(|| println!("{text}"));
        }
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        self.spinner.finish_and_clear();
    }
}

/// Handles one stream frame (`{kind, sequence, message|payload}`).
fn on_frame(printer: &mut Printer, frame: &Value) {
    let kind = frame["kind"].as_str().unwrap_or_default();
    let sequence = frame["sequence"].as_u64().unwrap_or(0);
    if kind == "message" {
        let message = if frame["message"].is_object() {
            &frame["message"]
        } else {
            &frame["payload"]
        };
        printer.message(sequence, message);
    } else {
        printer.event(kind, &frame["payload"]);
    }
}

/// How a connection to the live stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StreamEnd {
    /// Closed or dropped: open it again from the last message.
    Closed,
    /// The token expired: refresh it, then open the stream again.
    Unauthorized,
    /// The session is gone, or not the caller's.
    Gone,
}

/// One connection to a session's stream, read on a task of its own so that the caller can
/// look at the run meanwhile.
struct LiveStream {
    frames: mpsc::Receiver<Value>,
    reader: JoinHandle<StreamEnd>,
}

impl LiveStream {
    /// Connects to session `id`'s stream from message `after`.
    fn open(conn: &Connection, id: &str, after: u64) -> Result<Self, ClientError> {
        let request = conn
            .http()
            .get(format!(
                "{}/api/v1/sessions/{id}/stream?after={after}",
                conn.server
            ))
            .header(reqwest::header::AUTHORIZATION, conn.bearer()?)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let (sender, frames) = mpsc::channel(256);
        let reader = tokio::spawn(async move {
            let Ok(response) = request.send().await else {
                return StreamEnd::Closed;
            };
            match response.status().as_u16() {
                200 => {}
                401 => return StreamEnd::Unauthorized,
                403 | 404 => return StreamEnd::Gone,
                _ => return StreamEnd::Closed,
            }
            let mut events = response.bytes_stream().eventsource();
            while let Some(Ok(event)) = events.next().await {
                if event.event == "close" {
                    break;
                }
                if let Ok(frame) = serde_json::from_str::<Value>(&event.data)
                    && sender.send(frame).await.is_err()
                {
                    break;
                }
            }
            StreamEnd::Closed
        });
        Ok(Self { frames, reader })
    }

    /// The next frame, or (after every frame it delivered) how the connection ended.
    /// Cancel-safe.
    async fn next(&mut self) -> Result<Value, StreamEnd> {
        if let Some(frame) = self.frames.recv().await {
            return Ok(frame);
        }
        Err((&mut self.reader).await.unwrap_or(StreamEnd::Closed))
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// After a connection ended: whether to open it again (false: the session is gone).
async fn reconnect(conn: &mut Connection, end: StreamEnd) -> Result<bool, ClientError> {
    match end {
        StreamEnd::Gone => return Ok(false),
        // Any call refreshes an expired token.
        StreamEnd::Unauthorized => drop(conn.get("/auth/me").await?),
        StreamEnd::Closed => tokio::time::sleep(Duration::from_millis(500)).await,
    }
    Ok(true)
}

/// Prints session `id` live until it is gone or the user interrupts (Ctrl-C).
///
/// # Errors
/// Not signed in, or the server unreachable when first asked.
pub async fn tail(
    conn: &mut Connection,
    id: &str,
    printer: &mut Printer,
) -> Result<(), ClientError> {
    conn.get(&format!("/sessions/{id}")).await?;
    printer.progress(format!("following session {id}"));
    loop {
        let mut stream = LiveStream::open(conn, id, printer.after)?;
        let end = loop {
            tokio::select! {
                next = stream.next() => match next {
                    Ok(frame) => on_frame(printer, &frame),
                    Err(end) => break end,
                },
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
        };
        if !reconnect(conn, end).await? {
            return Ok(());
        }
    }
}

/// Prints the messages stored after `printer.after` (what the stream had not delivered
/// yet when the run ended).
async fn catch_up(
    conn: &mut Connection,
    session: &str,
    printer: &mut Printer,
) -> Result<(), ClientError> {
    loop {
        let page = conn
            .get(&format!(
                "/sessions/{session}/messages?after={}&limit=100",
                printer.after
            ))
            .await?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        for message in &items {
            printer.message(message["sequence_number"].as_u64().unwrap_or(0), message);
        }
        if items.len() < 100 {
            return Ok(());
        }
    }
}

fn ended(execution: &Value) -> bool {
    ENDED.contains(&execution["status"].as_str().unwrap_or_default())
}

/// Follows execution `id`: its session's messages live until the run ends; returns the
/// execution as it ended.
///
/// # Errors
/// Not signed in, the server unreachable, or the API's problem.
pub async fn execution(
    conn: &mut Connection,
    id: &str,
    printer: &mut Printer,
) -> Result<Value, ClientError> {
    let path = format!("/task-executions/{id}");
    let mut run = conn.get(&path).await?;
    printer.progress("waiting for an agent".to_owned());
    while run["session_id"].is_null() && !ended(&run) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        run = conn.get(&path).await?;
    }
    let Some(session) = run["session_id"].as_str().map(str::to_owned) else {
        return Ok(run);
    };
    let mut look = tokio::time::interval(Duration::from_secs(1));
    'run: while !ended(&run) {
        let mut stream = LiveStream::open(conn, &session, printer.after)?;
        let end = loop {
            tokio::select! {
                biased;
                next = stream.next() => match next {
                    Ok(frame) => on_frame(printer, &frame),
                    Err(end) => break end,
                },
                _ = look.tick() => {
                    run = conn.get(&path).await?;
                    printer.progress(format!("{} · session {session}", run["status"].as_str().unwrap_or_default()));
                    if ended(&run) {
                        break 'run;
                    }
                }
            }
        };
        if !reconnect(conn, end).await? {
            break;
        }
    }
    catch_up(conn, &session, printer).await?;
    Ok(run)
}
