//! Agent isolation (`--agent-sandbox on`, bubblewrap): a scripted agent tries to read another
//! session's working directory, the service's database and JWT secret, its data directory, the
//! kubeconfig the built-in tools use and its environment, and gets none of them, while its own
//! directory works as usual.

use std::time::Duration;

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::Api;
use overseer_testkit::script::{Reply, Script};
use serde_json::{Value, json};

use crate::node::{Node, bash_stdout, create_task, execute, finished, temp_dir, tool_calls};

const OTHER_SESSION_CANARY: &str = "CANARY-other-session-5d1e";
const SERVICE_SECRET: &str = "CANARY-service-env-8c3a";
const KUBE_TOKEN: &str = "CANARY-kube-token-2b7f";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandboxed_agent_reads_nothing_of_other_sessions_or_the_service() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let data_dir = temp_dir("isolation");
    let api = FakeAnthropic::start().await;
    api.script(Script::new(
        "leave-a-note",
        vec![
            Reply::bash(&format!("echo {OTHER_SESSION_CANARY} > note.txt")),
            Reply::text("Noted."),
        ],
    ));
    // The built-in tools' kubeconfig lives outside the data directory, as an admin keeps it,
    // and outside /tmp, which the sandbox replaces anyway.
    let kube_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("isolation-kube-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&kube_dir).unwrap();
    let kubeconfig = kube_dir.join("kubeconfig.yaml");
    std::fs::write(
        &kubeconfig,
        format!("users:\n- name: x\n  user: {{token: {KUBE_TOKEN}}}\n"),
    )
    .unwrap();
    let config = kube_dir.join("overseer.toml");
    std::fs::write(
        &config,
        format!(
            "[tools.kubernetes]\nkubeconfig = {:?}\n",
            kubeconfig.display().to_string()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    // Started with `on`: without a working bwrap the node refuses to start, and this fails.
    let node = Node::start_with_env(
        &data_dir,
        None,
        &cli,
        &api,
        &["--agent-sandbox", "on", "--config", &config],
        &[("SERVICE_ONLY_SECRET", SERVICE_SECRET)],
    )
    .await;
    let alice = Api::sign_up(&node.base, "alice@example.com").await;
    let first = run(&alice, "leave-a-note").await;
    let note = std::fs::read_dir(data_dir.join("agent-workdirs/active"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path().join("note.txt"))
        .find(|note| note.exists())
        .expect("the first session's note is on disk");
    assert_eq!(first["status"], json!("completed"), "{first}");

    let data = data_dir.canonicalize().unwrap();
    let probe = [
        format!("cat {}", note.display()),
        format!("ls -la {}", data.join("agent-workdirs/active").display()),
        format!("head -c 64 {}", data.join("overseer.db").display()),
        format!("cat {}", data.join("jwt-secret").display()),
        format!("ls -la {}", data.display()),
        format!("cat /proc/{}/environ", node.pid()),
        format!("cat {}", kubeconfig.canonicalize().unwrap().display()),
        "env".to_owned(),
        "echo mine > mine.txt && cat mine.txt".to_owned(),
    ]
    .map(|command| format!("echo \"== {command}\"; {command} 2>&1"))
    .join("; ");
    api.script(Script::new(
        "probe",
        vec![Reply::bash(&probe), Reply::text("Probed.")],
    ));
    let second = run(&alice, "probe").await;
    assert_eq!(second["status"], json!("completed"), "{second}");
    let calls = tool_calls(&alice, second["session_id"].as_str().unwrap()).await;
    let output = bash_stdout(&calls["items"][0]);

    assert!(output.contains("== env"), "the probe ran: {output}");
    assert!(
        output.lines().any(|line| line == "mine"),
        "its own directory works: {output}"
    );
    let jwt_secret = std::fs::read_to_string(data.join("jwt-secret")).unwrap();
    for leaked in [
        OTHER_SESSION_CANARY,
        SERVICE_SECRET,
        KUBE_TOKEN,
        "SERVICE_ONLY_SECRET",
        "SQLite format 3",
        jwt_secret.trim(),
    ] {
        assert!(
            !output.contains(leaked),
            "{leaked} reached the agent: {output}"
        );
    }
    // `ls -la` lines end with the entry's name; the data directory lists none of its files.
    for listed in ["overseer.db", "jwt-secret", "node.log", "reports"] {
        assert!(
            !output
                .lines()
                .any(|line| line.ends_with(&format!(" {listed}"))),
            "{listed} is listed: {output}"
        );
    }
    let _ = std::fs::remove_dir_all(kube_dir);
}

async fn run(api: &Api, prompt: &str) -> Value {
    let task = create_task(
        api,
        json!({
            "name": prompt,
            "prompt_template": prompt,
            "sdk_options": {"allowed_tools": ["Bash"]},
        }),
    )
    .await;
    let execution = execute(api, &task, json!({})).await;
    finished(api, &execution, Duration::from_secs(90)).await
}
