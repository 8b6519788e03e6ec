//! Soak: 1,000 executions in a row through the service with the fake CLI (a one-tool turn
//! each), sampling the server's resident memory and open file descriptors as they go. Flat
//! means no leak per run: neither grows with the number of runs once warmed up.

use serde_json::{Value, json};

use crate::bare::Cli;
use crate::flood::fake_cli;
use crate::server::{Server, Tenant};
use overseer_testkit::script::{Reply, Script};

const RUNS: usize = 1_000;
/// After how many runs a sample is taken.
const SAMPLE_AT: [usize; 6] = [0, 1, 250, 500, 750, 1_000];

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

pub async fn run(cli: &Cli) -> String {
    let script = Script::new(
        "bench-soak",
        vec![Reply::bash("echo soak"), Reply::text("Done.")],
    );
    let fake = fake_cli(cli, script);
    let server = Server::start(&fake, "soak", None, &[]).await;
    let options = json!({"allowed_tools": ["Bash"]});
    let tenant = Tenant::new(&server, "soak@example.com", &options).await;
    let mut out = format!(
        "| runs done (of {RUNS}, SQLite, fake CLI) | service RSS | open file descriptors |\n|---|---|---|\n"
    );
    let started = std::time::Instant::now();
    let mut failed = 0;
    for done in 0..=RUNS {
        if SAMPLE_AT.contains(&done) {
            out.push_str(&format!(
                "| {done} | {:.1} MiB | {} |\n",
                server.rss_mib(),
                open_fds(server.pid())
            ));
        }
        if done == RUNS {
            break;
        }
        let run: Value = tenant
            .wait(&tenant.execute(&format!("bench-soak {done}")).await)
            .await;
        if run["status"] != json!("completed") {
            failed += 1;
        }
    }
    out.push_str(&format!(
        "\n{RUNS} runs in {:.0} s; {failed} did not complete.\n",
        started.elapsed().as_secs_f64()
    ));
    out
}
