//! Building the services is pure (no runtime, nothing spawned); `start` spawns the node's
//! background loops and returns their handles, and `stop` ends them.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use overseer_ports::agent::MockAgentRunner;
use overseer_ports::{MockReportFiles, MockWorkspaces, NoTelemetry};
use overseer_services::InProcessBroadcaster;
use overseer_services::SchedulerConfig;
use overseer_services::{Adapters, Deps, Services, ServicesConfig, WarmPoolConfig};
use overseer_testkit::MemoryStore;

fn services(config: ServicesConfig) -> Services {
    let adapters = Adapters {
        deps: Deps::system(MemoryStore::new().repositories()),
        runner: Arc::new(MockAgentRunner::new()),
        workspaces: Arc::new(MockWorkspaces::new()),
        report_files: Arc::new(MockReportFiles::new()),
        report_renderer: Arc::new(overseer_reports::DocumentRenderer),
        calendar: Arc::new(overseer_calendar::CronCalendar),
        broadcaster: Arc::new(InProcessBroadcaster::default()),
        telemetry: Arc::new(NoTelemetry),
        cluster: None,
    };
    Services::build(adapters, config)
}

#[test]
fn building_needs_no_runtime_and_spawns_nothing() {
    // A plain #[test]: no tokio runtime exists here, so any spawn would panic.
    let built = services(ServicesConfig::default());
    assert_eq!(built.pool.live_count(), 0);
}

#[tokio::test]
async fn start_returns_every_loop_and_stop_ends_them() {
    let built = services(ServicesConfig {
        scheduler: SchedulerConfig {
            enabled: true,
            ..SchedulerConfig::default()
        },
        warm: WarmPoolConfig {
            max_agents: 1,
            ..WarmPoolConfig::default()
        },
        ..ServicesConfig::default()
    });
    let running = built.start();
    assert_eq!(
        running.names(),
        [
            "queue worker",
            "queue worker",
            "queue worker",
            "scheduler",
            "agent evictor",
            "warm pool expiry"
        ]
    );
    tokio::time::timeout(std::time::Duration::from_secs(5), running.stop())
        .await
        .expect("every loop ends when stopped");
}
