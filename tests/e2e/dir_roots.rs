//! Extra directories (`add_dirs`) stay inside the roots an admin configures: a task or session
//! asking for one elsewhere is a 422 naming `sdk_options.add_dirs`, and nothing is written.

use overseer_e2e::{spawn_sqlite_with, temp_data_dir};
use overseer_testkit::http_api::Api;
use reqwest::Method;
use serde_json::{Value, json};

fn task(add_dirs: &[&str]) -> Value {
    json!({
        "name": "Repo chores",
        "prompt_template": "Tidy the repository.",
        "sdk_options": {"add_dirs": add_dirs},
    })
}

fn refused(status: u16, body: &Value, dir: &str) {
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["errors"][0]["field"],
        json!("sdk_options.add_dirs"),
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|reason| reason.contains(dir)),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_directories_outside_the_admins_roots_are_refused() {
    let app = spawn_sqlite_with(temp_data_dir(), |settings| {
        settings.agent_dir_roots = vec!["/srv/repos".into()];
    })
    .await;
    let alice = Api::sign_up(&app.url(""), "alice@example.com").await;

    let (status, created) = alice
        .json(
            Method::POST,
            "/api/v1/tasks",
            Some(task(&["/srv/repos/overseer"])),
        )
        .await;
    assert_eq!(status, 201, "inside a root: {created}");
    for outside in ["/etc", "/srv/repos-other", "/srv"] {
        let (status, body) = alice
            .json(Method::POST, "/api/v1/tasks", Some(task(&[outside])))
            .await;
        refused(status, &body, outside);
    }
    let (_, list) = alice.json(Method::GET, "/api/v1/tasks", None).await;
    assert_eq!(list["total"], json!(1), "nothing written: {list}");

    let path = format!("/api/v1/tasks/{}", created["id"].as_str().unwrap());
    let (status, body) = alice
        .json(
            Method::PATCH,
            &path,
            Some(json!({"sdk_options": {"add_dirs": ["/root"]}})),
        )
        .await;
    refused(status, &body, "/root");
    let (_, stored) = alice.json(Method::GET, &path, None).await;
    assert_eq!(
        stored["sdk_options"]["add_dirs"],
        json!(["/srv/repos/overseer"]),
        "the task is unchanged: {stored}"
    );

    let (status, body) = alice
        .json(
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"name": "s", "sdk_options": {"add_dirs": ["/var/lib"]}})),
        )
        .await;
    refused(status, &body, "/var/lib");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_configured_roots_no_task_gets_an_extra_directory() {
    let app = spawn_sqlite_with(temp_data_dir(), |_| {}).await;
    let alice = Api::sign_up(&app.url(""), "alice@example.com").await;
    let (status, body) = alice
        .json(Method::POST, "/api/v1/tasks", Some(task(&["/srv/repos"])))
        .await;
    refused(status, &body, "/srv/repos");
    let (status, body) = alice
        .json(Method::POST, "/api/v1/tasks", Some(task(&[])))
        .await;
    assert_eq!(status, 201, "{body}");
}
