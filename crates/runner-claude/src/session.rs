//! One running CLI process: a writer task owns its stdin, a reader task demultiplexes its
//! stdout, a stderr task keeps a bounded tail, and a waiter task owns the child and publishes
//! its exit.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use overseer_domain::{ModelName, PermissionMode};
use overseer_ports::agent::{AgentCallbacks, AgentError, AgentEvent, AgentFailure, AgentSession};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{AbortHandle, JoinHandle};

use crate::callbacks;
use crate::frames::{Incoming, classify};
use crate::lines::{Line, read_line_capped};
use crate::process::kill_group;

/// The exit code, once the process has exited (`None` inside: killed by a signal).
pub(crate) type ExitStatus = Option<Option<i32>>;

/// Limits and timeouts of one session.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub control_timeout: Duration,
    pub close_grace: Duration,
    pub max_line_bytes: usize,
    pub stderr_tail_bytes: usize,
}

/// What the session's tasks share.
#[derive(Debug, Default)]
struct Shared {
    /// Our control requests awaiting the CLI's reply.
    pending: Mutex<HashMap<String, oneshot::Sender<Result<Value, String>>>>,
    /// The CLI's control requests being answered, so a cancel can abort them.
    answering: Mutex<HashMap<String, AbortHandle>>,
    agent_session_id: Mutex<Option<String>>,
    stderr_tail: Mutex<VecDeque<u8>>,
    closing: AtomicBool,
    next_request: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn stderr_tail(&self) -> String {
        let tail = lock(&self.stderr_tail);
        String::from_utf8_lossy(&tail.iter().copied().collect::<Vec<u8>>()).into_owned()
    }
}

enum Outgoing {
    Line(Vec<u8>),
    CloseInput,
}

impl Outgoing {
    /// Serialized by serde: a line that is not valid JSON would kill the CLI.
    fn frame(value: &Value) -> Self {
        let mut line = value.to_string().into_bytes();
        line.push(b'\n');
        Self::Line(line)
    }
}

/// The pipes and exit channel of a freshly spawned CLI.
pub(crate) struct Process {
    pub pid: u32,
    pub stdin: ChildStdin,
    pub stdout: ChildStdout,
    pub stderr: ChildStderr,
    pub exit: watch::Receiver<ExitStatus>,
}

/// A running CLI process as an [`AgentSession`].
pub struct ClaudeSession {
    shared: Arc<Shared>,
    writer: mpsc::UnboundedSender<Outgoing>,
    events: tokio::sync::Mutex<mpsc::Receiver<AgentEvent>>,
    exit: watch::Receiver<ExitStatus>,
    pid: u32,
    limits: Limits,
}

impl std::fmt::Debug for ClaudeSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaudeSession")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl ClaudeSession {
    /// Starts the session's tasks around `process`, which started its running cost total at
    /// `carried_cost_usd` (a resumed conversation's earlier cost, which some CLIs carry over):
    /// turn results report what this process spent, as the port promises.
    pub(crate) fn attach(
        process: Process,
        callbacks: AgentCallbacks,
        limits: Limits,
        carried_cost_usd: f64,
    ) -> Self {
        let shared = Arc::new(Shared::default());
        let (writer, outgoing) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::channel(EVENT_BUFFER);
        tokio::spawn(write_stdin(process.stdin, outgoing));
        let stderr_done = tokio::spawn(keep_stderr_tail(
            process.stderr,
            shared.clone(),
            limits.stderr_tail_bytes,
        ));
        tokio::spawn(
            Reader {
                shared: shared.clone(),
                writer: writer.clone(),
                events: events_tx,
                callbacks,
                exit: process.exit.clone(),
                pid: process.pid,
                limits,
                carried_cost_usd,
            }
            .run(process.stdout, stderr_done),
        );
        Self {
            shared,
            writer,
            events: tokio::sync::Mutex::new(events_rx),
            exit: process.exit,
            pid: process.pid,
            limits,
        }
    }

    fn exited(&self) -> bool {
        self.exit.borrow().is_some()
    }

    /// Sends one of our control requests and waits for its reply.
    pub(crate) async fn control(
        &self,
        request: Value,
        timeout: Duration,
    ) -> Result<Value, AgentError> {
        let subtype = request
            .get("subtype")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        if self.exited() {
            return Err(AgentError::Closed);
        }
        let n = self.shared.next_request.fetch_add(1, Ordering::Relaxed) + 1;
        let request_id = format!("req_{n}_{}", uuid::Uuid::now_v7().simple());
        let (reply_tx, reply_rx) = oneshot::channel();
        lock(&self.shared.pending).insert(request_id.clone(), reply_tx);
        let frame =
            json!({"type": "control_request", "request_id": request_id, "request": request});
        if self.writer.send(Outgoing::frame(&frame)).is_err() {
            lock(&self.shared.pending).remove(&request_id);
            return Err(AgentError::Closed);
        }
        match tokio::time::timeout(timeout, reply_rx).await {
            Ok(Ok(Ok(response))) => Ok(response),
            Ok(Ok(Err(message))) => Err(AgentError::Rejected { subtype, message }),
            // The reader dropped every pending request: the process is gone.
            Ok(Err(_)) => Err(AgentError::Closed),
            Err(_) => {
                lock(&self.shared.pending).remove(&request_id);
                Err(AgentError::Timeout {
                    subtype,
                    seconds: timeout.as_secs(),
                })
            }
        }
    }

    /// Waits until the process has exited and returns its exit code and stderr tail.
    pub(crate) async fn exit_report(&self) -> (Option<i32>, String) {
        let code = wait_for_exit(self.exit.clone(), self.limits.close_grace, self.pid).await;
        (code, self.shared.stderr_tail())
    }

    /// Kills the process group now.
    pub(crate) fn kill(&self) {
        kill_group(self.pid);
    }
}

/// Waits up to `grace` for the exit, then kills the group and waits for the kernel to report it.
async fn wait_for_exit(
    mut exit: watch::Receiver<ExitStatus>,
    grace: Duration,
    pid: u32,
) -> Option<i32> {
    if let Ok(Ok(status)) = tokio::time::timeout(grace, exit.wait_for(Option::is_some)).await {
        return status.flatten();
    }
    kill_group(pid);
    let status = exit.wait_for(Option::is_some).await.map(|s| s.flatten());
    status.unwrap_or(None)
}

#[async_trait]
impl AgentSession for ClaudeSession {
    async fn send_message(&self, text: &str) -> Result<(), AgentError> {
        if self.exited() || self.shared.closing.load(Ordering::Acquire) {
            return Err(AgentError::Closed);
        }
        let frame = json!({
            "type": "user",
            "message": {"role": "user", "content": text},
            "parent_tool_use_id": null,
            "session_id": "",
        });
        self.writer
            .send(Outgoing::frame(&frame))
            .map_err(|_| AgentError::Closed)
    }

    async fn next_event(&self) -> Option<AgentEvent> {
        self.events.lock().await.recv().await
    }

    async fn next_events(&self, max: usize) -> Vec<AgentEvent> {
        let mut events = self.events.lock().await;
        let Some(first) = events.recv().await else {
            return Vec::new();
        };
        let mut batch = vec![first];
        while batch.len() < max && !batch.last().is_some_and(AgentEvent::ends_turn) {
            match events.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        batch
    }

    async fn interrupt(&self) -> Result<(), AgentError> {
        self.control(json!({"subtype": "interrupt"}), self.limits.control_timeout)
            .await
            .map(drop)
    }

    async fn set_permission_mode(&self, mode: PermissionMode) -> Result<(), AgentError> {
        let request = json!({"subtype": "set_permission_mode", "mode": mode.as_cli_str()});
        self.control(request, self.limits.control_timeout)
            .await
            .map(drop)
    }

    async fn set_model(&self, model: Option<ModelName>) -> Result<(), AgentError> {
        let request = json!({"subtype": "set_model", "model": model.map(String::from)});
        self.control(request, self.limits.control_timeout)
            .await
            .map(drop)
    }

    async fn close(&self) -> Result<(), AgentError> {
        self.shared.closing.store(true, Ordering::Release);
        // EOF lets the CLI finish its turn and exit; the grace period bounds how long.
        let _ = self.writer.send(Outgoing::CloseInput);
        wait_for_exit(self.exit.clone(), self.limits.close_grace, self.pid).await;
        // Tools the CLI started may outlive it in its group.
        kill_group(self.pid);
        Ok(())
    }

    fn agent_session_id(&self) -> Option<String> {
        lock(&self.shared.agent_session_id).clone()
    }

    fn process_id(&self) -> Option<u32> {
        (!self.exited()).then_some(self.pid)
    }

    fn has_exited(&self) -> bool {
        self.exited()
    }
}

impl Drop for ClaudeSession {
    fn drop(&mut self) {
        if !self.exited() {
            kill_group(self.pid);
        }
    }
}

async fn write_stdin(mut stdin: ChildStdin, mut outgoing: mpsc::UnboundedReceiver<Outgoing>) {
    while let Some(message) = outgoing.recv().await {
        match message {
            Outgoing::Line(line) => {
                if stdin.write_all(&line).await.is_err() || stdin.flush().await.is_err() {
                    break;
                }
            }
            Outgoing::CloseInput => break,
        }
    }
    // Dropping stdin is the EOF that ends the CLI.
}

async fn keep_stderr_tail(mut stderr: ChildStderr, shared: Arc<Shared>, cap: usize) {
    let mut chunk = vec![0_u8; 8192];
    while let Ok(n) = stderr.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        let mut tail = lock(&shared.stderr_tail);
        tail.extend(&chunk[..n]);
        let excess = tail.len().saturating_sub(cap);
        tail.drain(..excess);
    }
}

/// Events read but not yet taken by the session's consumer.
const EVENT_BUFFER: usize = 1024;

struct Reader {
    shared: Arc<Shared>,
    writer: mpsc::UnboundedSender<Outgoing>,
    events: mpsc::Sender<AgentEvent>,
    callbacks: AgentCallbacks,
    exit: watch::Receiver<ExitStatus>,
    pid: u32,
    limits: Limits,
    /// Subtracted from every turn's `total_cost_usd` (see [`ClaudeSession::attach`]).
    carried_cost_usd: f64,
}

impl Reader {
    async fn run(self, stdout: ChildStdout, stderr_done: JoinHandle<()>) {
        let mut stdout = BufReader::with_capacity(64 * 1024, stdout);
        let mut line = Vec::new();
        let failure = loop {
            match read_line_capped(&mut stdout, &mut line, self.limits.max_line_bytes).await {
                Ok(Line::Eof) => break None,
                Ok(Line::TooLong) => {
                    break Some(format!(
                        "the agent printed a line over {} bytes",
                        self.limits.max_line_bytes
                    ));
                }
                Err(err) => break Some(format!("reading the agent's output failed: {err}")),
                Ok(Line::Complete) if line.iter().all(u8::is_ascii_whitespace) => {}
                Ok(Line::Complete) => match serde_json::from_slice::<Value>(&line) {
                    Ok(frame) => self.dispatch(frame).await,
                    Err(err) => {
                        break Some(format!("the agent printed a line that is not JSON ({err})"));
                    }
                },
            }
        };
        if failure.is_some() {
            kill_group(self.pid);
        }
        let exit_code = wait_for_exit(self.exit.clone(), self.limits.close_grace, self.pid).await;
        let _ = tokio::time::timeout(Duration::from_secs(1), stderr_done).await;
        // Whoever still waits for a reply learns the process is gone.
        lock(&self.shared.pending).clear();
        for (_, handle) in lock(&self.shared.answering).drain() {
            handle.abort();
        }
        let expected = failure.is_none() && self.shared.closing.load(Ordering::Acquire);
        if !expected {
            let message = failure.unwrap_or_else(|| "the agent exited unexpectedly".to_owned());
            tracing::warn!(pid = self.pid, exit_code, %message, "agent process failed");
            let failed = AgentEvent::Failed(AgentFailure {
                message,
                exit_code,
                stderr_tail: self.shared.stderr_tail(),
            });
            let _ = self.events.send(failed).await;
        }
    }

    async fn dispatch(&self, frame: Value) {
        match classify(frame) {
            Incoming::ControlResponse {
                request_id,
                outcome,
            } => {
                if let Some(reply) = lock(&self.shared.pending).remove(&request_id) {
                    let _ = reply.send(outcome);
                }
            }
            Incoming::ControlRequest {
                request_id,
                request,
            } => self.answer(request_id, request),
            Incoming::ControlCancel { request_id } => {
                if let Some(handle) = lock(&self.shared.answering).remove(&request_id) {
                    handle.abort();
                }
            }
            Incoming::KeepAlive => {}
            Incoming::Events(events) => {
                for mut event in events {
                    self.remember_session_id(&event);
                    if let AgentEvent::TurnEnded(result) = &mut event {
                        result.total_cost_usd =
                            (result.total_cost_usd - self.carried_cost_usd).max(0.0);
                    }
                    // Waits while the consumer is behind: the CLI then blocks on its stdout
                    // instead of this process buffering without bound.
                    let _ = self.events.send(event).await;
                }
            }
        }
    }

    fn remember_session_id(&self, event: &AgentEvent) {
        let id = match event {
            AgentEvent::Init(init) => Some(init.agent_session_id.clone()),
            AgentEvent::TurnEnded(result) => result.agent_session_id.clone(),
            _ => None,
        };
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            *lock(&self.shared.agent_session_id) = Some(id);
        }
    }

    /// Answers on a task of its own: a slow permission decision must not stop the reader
    /// (the MCP handshake even arrives while we wait for our initialize reply).
    fn answer(&self, request_id: String, request: Value) {
        let (callbacks, writer, shared) = (
            self.callbacks.clone(),
            self.writer.clone(),
            self.shared.clone(),
        );
        let id = request_id.clone();
        let task = tokio::spawn(async move {
            let response = match callbacks::answer(&callbacks, &request).await {
                Ok(response) => {
                    json!({"subtype": "success", "request_id": id, "response": response})
                }
                Err(error) => json!({"subtype": "error", "request_id": id, "error": error}),
            };
            lock(&shared.answering).remove(&id);
            let _ = writer.send(Outgoing::frame(
                &json!({"type": "control_response", "response": response}),
            ));
        });
        let mut answering = lock(&self.shared.answering);
        answering.retain(|_, handle| !handle.is_finished());
        answering.insert(request_id, task.abort_handle());
    }
}
