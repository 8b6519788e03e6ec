//! (a) one execution through HTTP beside the bare CLI's same turn, and (b) throughput of 100
//! executions at a fixed concurrency beside 100 bare runs at the same concurrency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;

use crate::bare::{self, Cli};
use crate::phases;
use crate::server::{Server, Tenant};
use crate::stats::{median, ms, ratio, verdict};
use crate::{Backend, MARKER};

const PAIRS: usize = 20;
const RUNS: usize = 100;

async fn tenant(server: &Server) -> Tenant {
    Tenant::new(
        server,
        "bench@example.com",
        &json!({"allowed_tools": ["Bash"]}),
    )
    .await
}

/// (a): median of alternating pairs, bare turn vs execute → persisted completion.
pub async fn single_execution(cli: &Cli, backends: &[Backend]) -> String {
    let mut out = String::from(
        "| backend | bare CLI (spawn → result) | Overseer (execute → persisted completion) | ratio | target ≤ 1.02 |\n|---|---|---|---|---|\n",
    );
    let mut breakdowns = String::new();
    for backend in backends {
        let database = backend.database().await;
        let server =
            Server::start(cli, &format!("a-{}", backend.name()), database.url(), &[]).await;
        let tenant = tenant(&server).await;
        let prompt = format!("{MARKER}: write a file");
        // Untimed warm-up of both sides.
        bare::run(
            cli,
            &cli.workdir(&format!("a-warm-{}", backend.name())),
            &prompt,
        )
        .await;
        tenant.wait(&tenant.execute(&prompt).await).await;
        let (mut bare_samples, mut ours, mut runs) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..PAIRS {
            let dir = cli.workdir(&format!("a-{}-{i}", backend.name()));
            bare_samples.push(bare::run(cli, &dir, &prompt).await);
            let started = Instant::now();
            let run = tenant.wait(&tenant.execute(&prompt).await).await;
            ours.push(started.elapsed());
            assert_eq!(run["status"], json!("completed"), "{run}");
            runs.push(run["id"].as_str().unwrap().to_owned());
        }
        let bare_turns: Vec<Duration> = bare_samples.iter().map(|s| s.turn).collect();
        let (b, o) = (median(&bare_turns), median(&ours));
        let r = ratio(o, b);
        out.push_str(&format!(
            "| {} | {} | {} | {r:.3} | {} |\n",
            backend.name(),
            ms(b),
            ms(o),
            verdict(r <= 1.02)
        ));
        breakdowns.push_str(
            &phases::table(
                backend.name(),
                &server.database_url,
                &runs,
                &bare_samples,
                &ours,
            )
            .await,
        );
    }
    out.push_str(&breakdowns);
    out
}

/// (b): wall time of 100 runs at concurrency `n`, each side; ratio of throughputs.
pub async fn throughput(cli: &Cli, backends: &[Backend]) -> String {
    let mut out = String::from(
        "| backend | concurrency | 100 bare runs | 100 executions | throughput ratio | target ≥ 0.95 |\n|---|---|---|---|---|---|\n",
    );
    for backend in backends {
        for n in [2usize, 4] {
            let database = backend.database().await;
            let slots = n.to_string();
            let flags = [
                "--max-concurrent-executions",
                &slots,
                "--max-running-total",
                &slots,
                "--max-running-per-user",
                &slots,
                "--max-live-agents",
                &slots,
            ];
            let label = format!("b-{}-{n}", backend.name());
            let server = Server::start(cli, &label, database.url(), &flags).await;
            let tenant = tenant(&server).await;
            let prompt = format!("{MARKER}: write a file");
            let bare_time = bare_batch(cli, n, &label, &prompt).await;
            let started = Instant::now();
            let mut runs = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                runs.push(tenant.execute(&prompt).await);
            }
            for run in &runs {
                let run = tenant.wait(run).await;
                assert_eq!(run["status"], json!("completed"), "{run}");
            }
            let ours = started.elapsed();
            let r = ratio(bare_time, ours);
            out.push_str(&format!(
                "| {} | {n} | {:.1} s | {:.1} s | {r:.3} | {} |\n",
                backend.name(),
                bare_time.as_secs_f64(),
                ours.as_secs_f64(),
                verdict(r >= 0.95)
            ));
        }
    }
    out
}

/// 100 bare runs, `n` at a time.
async fn bare_batch(cli: &Cli, n: usize, label: &str, prompt: &str) -> Duration {
    let permits = Arc::new(Semaphore::new(n));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (cli, dir, prompt) = (
            cli.clone(),
            cli.workdir(&format!("{label}-bare-{i}")),
            prompt.to_owned(),
        );
        handles.push(tokio::spawn(async move {
            bare::run(&cli, &dir, &prompt).await;
            drop(permit);
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    started.elapsed()
}

/// The warm pool through the service: the same execution on a server that keeps one CLI warm
/// (`--warm-agents 1`) and on one that does not, alternating. Each run waits a moment first, so
/// the warm server has replaced the agent the previous run took; the cold one waits as long.
pub async fn warm_pool(cli: &Cli) -> String {
    let cold = Server::start(cli, "warm-off", None, &[]).await;
    let warm = Server::start(cli, "warm-on", None, &["--warm-agents", "1"]).await;
    let (cold_tenant, warm_tenant) = (tenant(&cold).await, tenant(&warm).await);
    let prompt = format!("{MARKER}: write a file");
    // Untimed: the first run on the warm server is what teaches it the option set.
    cold_tenant.wait(&cold_tenant.execute(&prompt).await).await;
    warm_tenant.wait(&warm_tenant.execute(&prompt).await).await;
    let (mut cold_runs, mut warm_runs) = (Vec::new(), Vec::new());
    let (mut cold_totals, mut warm_totals) = (Vec::new(), Vec::new());
    for _ in 0..PAIRS {
        for (tenant, runs, totals) in [
            (&cold_tenant, &mut cold_runs, &mut cold_totals),
            (&warm_tenant, &mut warm_runs, &mut warm_totals),
        ] {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let started = Instant::now();
            let run = tenant.wait(&tenant.execute(&prompt).await).await;
            totals.push(started.elapsed());
            assert_eq!(run["status"], json!("completed"), "{run}");
            runs.push(run["id"].as_str().unwrap().to_owned());
        }
    }
    let first_event = |stamps: Vec<phases::Stamps>| {
        median(
            &stamps
                .iter()
                .map(phases::Stamps::to_first_event)
                .collect::<Vec<_>>(),
        )
    };
    let cold_first = first_event(phases::stamps(&cold.database_url, &cold_runs).await);
    let warm_first = first_event(phases::stamps(&warm.database_url, &warm_runs).await);
    let (cold_total, warm_total) = (median(&cold_totals), median(&warm_totals));
    format!(
        "| through HTTP on SQLite (median of {PAIRS} alternating runs) | `--warm-agents 0` (default) | `--warm-agents 1` | saved (warm ÷ cold) |\n|---|---|---|---|\n\
         | execute → the agent's first event stored | {} | {} | {} ({:.3}) |\n\
         | execute → persisted completion (client's view) | {} | {} | {} ({:.3}) |\n",
        ms(cold_first),
        ms(warm_first),
        ms(cold_first.saturating_sub(warm_first)),
        ratio(warm_first, cold_first),
        ms(cold_total),
        ms(warm_total),
        ms(cold_total.saturating_sub(warm_total)),
        ratio(warm_total, cold_total),
    )
}
