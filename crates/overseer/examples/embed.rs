//! Overseer embedded in a program: run the task "Health check of the {cluster_name} cluster"
//! with `cluster_name=production` through the real Claude Code CLI, print what was stored and
//! the events received, and exit 0 only if the run completed.
//!
//! ```sh
//! npm ci   # the CLI, into ./node_modules/.bin (or have `claude` on PATH)
//! ANTHROPIC_API_KEY=… cargo run -p overseer --example embed
//! ```
//!
//! `ANTHROPIC_BASE_URL` points it at another API (CI: a fake one). State lives in
//! `./data-embed` (`OVERSEER_DATA_DIR` to change): running it again reuses the service account
//! and the task, and adds a run.

// An example prints its results.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use overseer::domain::template::{VariableName, VariableSpec};
use overseer::domain::{
    AgentOptions, ExecutionStatus, NewTask, PromptTemplate, ReportFormat, TaskName, TaskTemplate,
    ToolPattern, TriggerType,
};
use overseer::ports::PageRequest;
use overseer::services::{RequestContext, StreamItem};
use overseer::{ExecutionEvent, Overseer};

const TASK: &str = "Cluster health check";

#[tokio::main]
async fn main() -> ExitCode {
    // Log lines on stderr (RUST_LOG filters, default info), the results on stdout.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("embed: {reason}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = std::env::var("OVERSEER_DATA_DIR").unwrap_or_else(|_| "./data-embed".into());
    // The Claude Code CLI from PATH or ./node_modules/.bin, ANTHROPIC_* from the environment,
    // the sandbox where bubblewrap works: what `overseer serve` does.
    let overseer = Overseer::builder().data_dir(data_dir).start().await?;
    let owner = overseer.service_account("embed-example").await?;
    let ctx = RequestContext::internal(owner.id);
    let tasks = &overseer.services().tasks;

    // The task, created once.
    let existing = tasks.list(&ctx, PageRequest::first(100)).await?;
    let task = match existing.items.into_iter().find(|t| t.name.as_str() == TASK) {
        Some(task) => task,
        None => {
            let template = TaskTemplate::new(
                PromptTemplate::parse("Health check of the {cluster_name} cluster".to_owned())?,
                vec![VariableSpec::required_string(VariableName::new(
                    "cluster_name",
                )?)],
            )?;
            let options = AgentOptions {
                allowed_tools: vec![ToolPattern::new("Bash")?],
                ..AgentOptions::default()
            };
            let new = NewTask {
                name: TaskName::new(TASK)?,
                description: Some("Runs the agent against one cluster".into()),
                template,
                options,
                generate_report: true,
                report_format: ReportFormat::Markdown,
                schedule: None,
            };
            tasks.create(&ctx, new).await?
        }
    };

    let variables = BTreeMap::from([("cluster_name".to_owned(), "production".into())]);
    let queued = tasks
        .execute(&ctx, task.id, variables, TriggerType::Manual)
        .await?;
    println!("execution {} queued", queued.id);

    // Every event of the run, then its end.
    let mut events = overseer.execution_events(ctx.clone(), queued.id);
    let finished = tokio::time::timeout(Duration::from_secs(300), async {
        while let Some(event) = events.next().await {
            match event {
                ExecutionEvent::Session(StreamItem::Replayed(message)) => {
                    println!("event: message {} (replayed)", message.sequence_number);
                }
                ExecutionEvent::Session(StreamItem::Live(event)) => {
                    println!("event: {} {}", event.kind().as_str(), event.sequence);
                }
                ExecutionEvent::Session(StreamItem::End(end)) => println!("event: end {end:?}"),
                ExecutionEvent::Ended(execution) => return Some(*execution),
            }
        }
        None
    })
    .await
    .map_err(|_| "the run did not end within 300 s")?
    .ok_or("the run could not be read")?;

    let session = finished.session_id.ok_or("the run has no session")?;
    let sessions = &overseer.services().sessions;
    println!("\nmessages of session {session}:");
    for message in sessions.messages(&ctx, session, 0, 1000).await? {
        // Typed blocks, whatever the CLI's frame format (its frame is `message.body.raw`).
        let text = serde_json::to_string(&message.body.blocks)?;
        let short: String = text.chars().take(160).collect();
        println!(
            "  {:>3} {:<11} {short}",
            message.sequence_number,
            message.message_type.as_str()
        );
    }
    println!("tool calls:");
    let calls = sessions
        .tool_calls(&ctx, session, PageRequest::first(100))
        .await?;
    for call in calls.items {
        let output: String = call
            .tool_output
            .unwrap_or_default()
            .chars()
            .take(120)
            .collect();
        println!(
            "  {} {} input={} output={output:?}",
            call.tool_name,
            call.status.as_str(),
            call.tool_input
        );
    }
    let status = finished.status();
    println!(
        "\nexecution {}: {} ({} s)",
        finished.id,
        status.as_str(),
        finished.duration_seconds.unwrap_or_default()
    );
    overseer.shutdown(Duration::from_secs(10)).await;
    if status == ExecutionStatus::Completed {
        Ok(())
    } else {
        Err(format!(
            "the run ended {}: {}",
            status.as_str(),
            finished.error_message.unwrap_or_default()
        )
        .into())
    }
}
