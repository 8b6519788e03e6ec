//! Swapping an adapter: the Claude runner, set up as `overseer serve` sets it up, wrapped in a
//! layer that counts (and logs) every agent it starts. One interactive turn, then the count.
//!
//! ```sh
//! ANTHROPIC_API_KEY=… cargo run -p overseer --example wrap_runner
//! ```

// An example prints its results.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use overseer::Overseer;
use overseer::domain::{AgentOptions, SessionMode, SessionName};
use overseer::ports::agent::{
    AgentCallbacks, AgentError, AgentRunner, AgentSession, AgentSpec, Layered, RunnerLayer,
};
use overseer::services::RequestContext;

// The wiring: a layer (the only method to write is `start`) and one builder call.
struct CountStarts(Arc<AtomicUsize>);

#[async_trait]
impl RunnerLayer for CountStarts {
    async fn start(
        &self,
        inner: &dyn AgentRunner,
        spec: AgentSpec,
        callbacks: AgentCallbacks,
    ) -> Result<Arc<dyn AgentSession>, AgentError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        tracing::info!(dir = %spec.working_directory.display(), "starting an agent");
        inner.start(spec, callbacks).await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Log lines on stderr (RUST_LOG filters, default info), the results on stdout.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let started = Arc::new(AtomicUsize::new(0));
    let layer = CountStarts(started.clone());
    let data_dir = std::env::var("OVERSEER_DATA_DIR").unwrap_or_else(|_| "./data-embed".into());
    let overseer = Overseer::builder()
        .data_dir(data_dir)
        .wrap_runner(|inner| Arc::new(Layered::new(layer, inner)))
        .start()
        .await?;

    let owner = overseer.service_account("wrap-example").await?;
    let ctx = RequestContext::internal(owner.id);
    let sessions = &overseer.services().sessions;
    let name = SessionName::new("wrapped runner")?;
    let session = sessions
        .create(
            &ctx,
            name,
            None,
            SessionMode::Interactive,
            AgentOptions::default(),
        )
        .await?;
    let outcome = sessions.run_turn(&ctx, session.id, "Say hello").await?;
    println!("answer: {}", outcome.text.unwrap_or_default());
    println!("agents started: {}", started.load(Ordering::SeqCst));
    overseer.shutdown(Duration::from_secs(10)).await;
    if outcome.is_error {
        return Err("the turn ended with an error".into());
    }
    Ok(())
}
