//! Two `serve` nodes on one Postgres database: runs are claimed exactly once whichever node
//! accepted them, live events cross nodes, and a killed node's runs are settled by the other.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use overseer_testkit::fake_api::FakeAnthropic;
use overseer_testkit::http_api::{Api, Method};
use overseer_testkit::live_stream;
use overseer_testkit::script::{Reply, Script, assistant_turns, long_running_command};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use serde_json::{Value, json};

use crate::node::{Node, processes_under, sleeping_session, temp_dir};

/// Both nodes sign and accept the same tokens: any node can answer any request.
const SHARED_JWT_SECRET: &str = "two-nodes-shared-jwt-secret-for-the-test";
const QUICK_RUNS: usize = 20;

fn flags() -> [&'static str; 10] {
    [
        "--lease-seconds",
        "2",
        "--max-concurrent-executions",
        "4",
        "--max-running-total",
        "20",
        "--max-running-per-user",
        "20",
        "--max-live-agents",
        "6",
    ]
}

fn scripts() -> Vec<Script> {
    vec![
        Script::new(
            "quick-run",
            vec![Reply::bash("echo ran"), Reply::text("ok")],
        ),
        Script::new(
            "relay-run",
            vec![
                Reply::bash(&long_running_command(2)),
                Reply::bash("echo after the pause"),
                Reply::text("relayed"),
            ],
        ),
        Script::new(
            "hold-run",
            vec![
                Reply::bash(&long_running_command(120)),
                Reply::text("never reached"),
            ],
        ),
    ]
}

/// One row of `task_executions`, read behind the API's back.
#[derive(Debug)]
struct LeaseRow {
    status: String,
    lease_owner: Option<String>,
    agent_started: bool,
    attempts: i64,
}

async fn lease_row(db: &DatabaseConnection, execution: &str) -> LeaseRow {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT status, lease_owner, agent_started_at IS NOT NULL AS agent_started, \
             attempts::bigint AS attempts FROM task_executions WHERE id = $1::uuid",
            [execution.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    LeaseRow {
        status: row.try_get("", "status").unwrap(),
        lease_owner: row.try_get("", "lease_owner").unwrap(),
        agent_started: row.try_get("", "agent_started").unwrap(),
        attempts: row.try_get("", "attempts").unwrap(),
    }
}

async fn execute(api: &Api, task: &str, prompt: &str) -> String {
    let (status, run) = api
        .json(
            Method::POST,
            &format!("/api/v1/tasks/{task}/execute"),
            Some(json!({"variables": {"prompt": prompt}})),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    run["id"].as_str().unwrap().to_owned()
}

async fn wait_status(api: &Api, id: &str, status: &str) -> Value {
    api.poll(
        &format!("/api/v1/task-executions/{id}"),
        Duration::from_secs(120),
        |run| run["status"] == json!(status),
    )
    .await
}

/// How many session working directories a node's data directory holds.
fn workdirs(data_dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(data_dir.join("agent-workdirs").join("active"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The message events of a session's stream up to its result, as (sequence, message type).
async fn stream_until_result(base: &str, token: &str, session: &str) -> Vec<(u64, String)> {
    let mut socket = live_stream::open(base, token, session, 0).await;
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(
            Duration::from_secs(60),
            live_stream::next_event(&mut socket),
        )
        .await
        .expect("the run's events stopped arriving")
        .expect("the stream ended");
        let Some(kind) = live_stream::message_type(&event) else {
            continue;
        };
        seen.push((event["sequence"].as_u64().unwrap(), kind.to_owned()));
        if kind == "result" {
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres() {
    let Some(cli) = overseer_testkit::cli::real_cli() else {
        return;
    };
    let Some((store, _database)) = overseer_store::testing::postgres().await else {
        return;
    };
    let url = store.connection_url().to_owned();
    drop(store);
    let db = sea_orm::Database::connect(url.as_str()).await.unwrap();
    let fake = FakeAnthropic::start().await;
    for script in scripts() {
        fake.script(script);
    }
    let env = [("OVERSEER_JWT_SECRET", SHARED_JWT_SECRET)];
    let (dir_a, dir_b) = (temp_dir("node-a"), temp_dir("node-b"));
    let mut a = Node::start_with_env(&dir_a, Some(&url), &cli, &fake, &flags(), &env).await;
    let b = Node::start_with_env(&dir_b, Some(&url), &cli, &fake, &flags(), &env).await;
    let (id_a, id_b) = (a.node_id(), b.node_id());
    assert_ne!(id_a, id_b);

    // A token from A is good on B.
    let on_a = Api::sign_up(&a.base, "alice@example.com").await;
    let token = on_a.token.clone().unwrap();
    let on_b = Api {
        base: b.base.clone(),
        client: on_a.client.clone(),
        token: Some(token.clone()),
    };
    let (status, task) = on_b
        .json(
            Method::POST,
            "/api/v1/tasks",
            Some(json!({
                "name": "Cluster work",
                "prompt_template": "{prompt}.",
                "variables": [{"name": "prompt", "type": "string"}],
                "sdk_options": {"allowed_tools": ["Bash(echo:*)", "Bash(timeout:*)"]},
            })),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    let task = task["id"].as_str().unwrap().to_owned();

    // 1. Twenty runs, submitted alternately to A and B, each run exactly once.
    let mut quick = Vec::new();
    for n in 0..QUICK_RUNS {
        let node = if n % 2 == 0 { &on_a } else { &on_b };
        let prompt = format!("quick-run n={n:02}");
        quick.push((execute(node, &task, &prompt).await, prompt));
    }
    for (id, _) in &quick {
        wait_status(&on_a, id, "completed").await;
    }
    for (id, prompt) in &quick {
        let row = lease_row(&db, id).await;
        assert_eq!(row.attempts, 1, "{id} was claimed more than once: {row:?}");
        let conversation_starts = fake
            .requests_for(prompt)
            .iter()
            .filter(|request| assistant_turns(request["messages"].as_array().unwrap()) == 0)
            .count();
        assert_eq!(
            conversation_starts, 1,
            "{prompt} reached the model more than once"
        );
    }
    let (ran_a, ran_b) = (workdirs(&dir_a).len(), workdirs(&dir_b).len());
    assert_eq!(ran_a + ran_b, QUICK_RUNS, "one working directory per run");
    assert!(
        ran_a > 0 && ran_b > 0,
        "both nodes should have claimed runs: A {ran_a}, B {ran_b}"
    );

    // 2. A subscriber on one node follows, live and in order, a run on the other node.
    let relay = execute(&on_a, &task, "relay-run").await;
    let run = on_a
        .poll(
            &format!("/api/v1/task-executions/{relay}"),
            Duration::from_secs(60),
            |run| run["session_id"].is_string(),
        )
        .await;
    let session = run["session_id"].as_str().unwrap().to_owned();
    // The node that created the session's working directory runs it.
    let subscriber = if workdirs(&dir_a).contains(&session) {
        &b.base
    } else {
        &a.base
    };
    let (_, persisted) = on_a
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{session}/messages?limit=100"),
            None,
        )
        .await;
    let persisted_at_connect = persisted["items"].as_array().unwrap().len() as u64;
    let streamed = stream_until_result(subscriber, &token, &session).await;
    let sequences: Vec<u64> = streamed.iter().map(|(s, _)| *s).collect();
    let last = *sequences.last().unwrap();
    assert_eq!(
        sequences,
        (1..=last).collect::<Vec<_>>(),
        "every event, in order"
    );
    assert!(
        last > persisted_at_connect + 2,
        "the tail of the run must arrive live through the other node ({persisted_at_connect} stored at connect, {last} in all)"
    );
    let (_, stored) = on_a
        .json(
            Method::GET,
            &format!("/api/v1/sessions/{session}/messages?limit=100"),
            None,
        )
        .await;
    let stored: Vec<(u64, String)> = stored["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["sequence_number"].as_u64().unwrap(),
                m["message_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(streamed, stored, "the stream is the stored session");

    // 3. A message posted to B for a session living on A runs on A.
    let (status, chat) = on_a
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": "chat on A", "sdk_options": {"allowed_tools": ["Bash(echo:*)"]}})),
        )
        .await;
    assert_eq!(status, 201, "{chat}");
    let chat = chat["id"].as_str().unwrap().to_owned();
    let (status, accepted) = on_b
        .json(
            Method::POST,
            &format!("/api/v1/sessions/{chat}/messages"),
            Some(json!({"content": "quick-run chat: say something"})),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let chat_messages = on_b
        .poll(
            &format!("/api/v1/sessions/{chat}/messages?limit=100"),
            Duration::from_secs(60),
            |page| {
                page["items"]
                    .as_array()
                    .is_some_and(|items| items.iter().any(|m| m["message_type"] == json!("result")))
            },
        )
        .await;
    let users = chat_messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["message_type"] == json!("user"))
        .count();
    assert_eq!(users, 1, "{chat_messages}");
    assert!(workdirs(&dir_a).contains(&chat) && !workdirs(&dir_b).contains(&chat));

    // 4. A dies mid-run: B fails A's started runs and re-queues A's unstarted claims.
    let hold = [
        execute(&on_a, &task, "hold-run 1").await,
        execute(&on_a, &task, "hold-run 2").await,
    ];
    for id in &hold {
        sleeping_session(&on_a, id).await;
    }
    // Holding the sessions table stops every claimed run before its agent starts.
    let lock = db.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE sessions IN SHARE ROW EXCLUSIVE MODE")
        .await
        .unwrap();
    let late: Vec<String> = {
        let mut late = Vec::new();
        for n in 0..3 {
            late.push(execute(&on_a, &task, &format!("quick-run late={n}")).await);
        }
        late
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while {
        let mut all_claimed = true;
        for id in &late {
            all_claimed &= lease_row(&db, id).await.status == "running";
        }
        !all_claimed
    } {
        assert!(
            Instant::now() < deadline,
            "the late runs were never claimed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut started_on_a = Vec::new();
    let mut unstarted_on_a = Vec::new();
    for id in hold.iter().chain(&late) {
        let row = lease_row(&db, id).await;
        if row.lease_owner.as_deref() == Some(id_a.as_str()) {
            if row.agent_started {
                started_on_a.push(id.clone());
            } else {
                unstarted_on_a.push(id.clone());
            }
        }
    }
    assert!(
        !started_on_a.is_empty() && !unstarted_on_a.is_empty(),
        "A should hold started and unstarted runs: {started_on_a:?} {unstarted_on_a:?}"
    );

    a.kill();
    lock.rollback().await.unwrap();

    for id in &started_on_a {
        let run = wait_status(&on_b, id, "failed").await;
        assert_eq!(run["error_message"], json!("node lost"), "{run}");
        let session = run["session_id"].as_str().unwrap();
        let (_, session) = on_b
            .json(Method::GET, &format!("/api/v1/sessions/{session}"), None)
            .await;
        assert_eq!(session["status"], json!("failed"), "{session}");
    }
    for id in &unstarted_on_a {
        let run = wait_status(&on_b, id, "completed").await;
        let row = lease_row(&db, id).await;
        assert_eq!(
            row.attempts, 2,
            "re-queued once, then claimed by B: {row:?}"
        );
        let session = run["session_id"].as_str().unwrap();
        assert!(
            workdirs(&dir_b).contains(session),
            "B ran the re-queued run {id}"
        );
    }
    let (_, running) = on_b
        .json(
            Method::GET,
            &format!("/api/v1/tasks/{task}/executions?limit=100"),
            None,
        )
        .await;
    let running = running["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|run| run["status"] == json!("running"));
    for run in running {
        let id = run["id"].as_str().unwrap();
        assert_eq!(
            lease_row(&db, id).await.lease_owner.as_deref(),
            Some(id_b.as_str()),
            "a running row without a live owner: {run}"
        );
        on_b.json(
            Method::POST,
            &format!("/api/v1/task-executions/{id}/cancel"),
            None,
        )
        .await;
    }

    drop(b);
    // A's tools outlived it (the CLI runs them in sessions of their own); a restart of A
    // would reap them, this test does it by hand.
    for (pid, _) in processes_under(&dir_a) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    db.close().await.ok();
    let _ = std::fs::remove_dir_all(&dir_a);
    let _ = std::fs::remove_dir_all(&dir_b);
}
