//! Lists the console reads: executions across tasks and, for admins, the accounts.

use overseer_e2e::{spawn_sqlite, temp_data_dir};
use overseer_testkit::http_api::{Api, Method};
use serde_json::{Value, json};

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_across_tasks_are_the_callers_and_admins_list_users() {
    let app = spawn_sqlite(temp_data_dir()).await;
    let base = app.url("");
    let admin = Api::sign_up(&base, "admin@example.com").await; // the first user
    let bob = Api::sign_up(&base, "bob@example.com").await;
    let carol = Api::sign_up(&base, "carol@example.com").await;
    let mut bobs = Vec::new();
    for name in ["first", "second"] {
        let (status, task) = bob
            .json(
                Method::POST,
                "/api/v1/tasks",
                Some(json!({"name": name, "prompt_template": "Say hi."})),
            )
            .await;
        assert_eq!(status, 201, "{task}");
        let path = format!("/api/v1/tasks/{}/execute", task["id"].as_str().unwrap());
        let (status, run) = bob
            .json(Method::POST, &path, Some(json!({"variables": {}})))
            .await;
        assert_eq!(status, 202, "{run}");
        bobs.push(run["id"].as_str().unwrap().to_owned());
    }

    let (status, list) = bob.json(Method::GET, "/api/v1/task-executions", None).await;
    assert_eq!(status, 200, "{list}");
    let mut listed = ids(&list);
    listed.sort();
    bobs.sort();
    assert_eq!(listed, bobs, "bob's runs of both tasks");
    let (_, list) = carol
        .json(Method::GET, "/api/v1/task-executions", None)
        .await;
    assert_eq!(ids(&list), Vec::<String>::new(), "carol sees none of bob's");
    let (_, list) = admin
        .json(Method::GET, "/api/v1/task-executions", None)
        .await;
    assert_eq!(ids(&list).len(), 2, "an admin sees everyone's: {list}");
    let (status, list) = bob
        .json(Method::GET, "/api/v1/task-executions?status=bogus", None)
        .await;
    assert_eq!(status, 422, "{list}");
    assert_eq!(list["errors"][0]["field"], json!("status"));

    let (status, body) = bob.json(Method::GET, "/api/v1/users", None).await;
    assert_eq!(status, 403, "{body}");
    let (status, users) = admin
        .json(Method::GET, "/api/v1/users?limit=10", None)
        .await;
    assert_eq!(status, 200, "{users}");
    let emails: Vec<&str> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["carol@example.com", "bob@example.com", "admin@example.com"]
    );
    assert!(
        users["items"][2].get("password_hash").is_none(),
        "no secret in the list: {users}"
    );
}
