//! (f) `GET /api/v1/tasks/{id}` (authenticated, read from the database) under load, beside an
//! actix-web hello-world in the same run, with the same load client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::Value;

use crate::bare::Cli;
use crate::server::{Server, Tenant};
use crate::stats::verdict;

const CONNECTIONS: usize = 16;
const DURATION: Duration = Duration::from_secs(10);

/// Requests per second from `CONNECTIONS` keep-alive clients hammering `url` for `DURATION`.
async fn load(url: &str, token: Option<&str>) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let client = overseer_testkit::http_api::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();
    let until = Instant::now() + DURATION;
    let mut workers = Vec::new();
    for _ in 0..CONNECTIONS {
        let (client, url, token, done) = (
            client.clone(),
            url.to_owned(),
            token.map(str::to_owned),
            done.clone(),
        );
        workers.push(tokio::spawn(async move {
            while Instant::now() < until {
                let mut request = client.get(&url);
                if let Some(token) = &token {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.unwrap();
                assert!(response.status().is_success(), "{}", response.status());
                response.bytes().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / DURATION.as_secs_f64()
}

/// An actix-web hello-world on a free port, with actix's default worker count (as Overseer).
fn hello_world() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = HttpServer::new(|| {
        App::new().route(
            "/",
            web::get().to(|| async { HttpResponse::Ok().body("hello") }),
        )
    })
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://{address}/")
}

pub async fn run(cli: &Cli) -> String {
    let server = Server::start(cli, "http", None, &[]).await;
    let tenant = Tenant::new(&server, "http@example.com", &Value::Null).await;
    let task_url = format!("{}/api/v1/tasks/{}", server.base, tenant.task);
    let hello = hello_world();
    // Alternate, twice each, to even out the machine's drift.
    let (mut ours, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        baseline.push(load(&hello, None).await);
        ours.push(load(&task_url, tenant.api.token.as_deref()).await);
    }
    let (ours, baseline) = (
        ours.iter().sum::<f64>() / ours.len() as f64,
        baseline.iter().sum::<f64>() / baseline.len() as f64,
    );
    let r = ours / baseline;
    format!(
        "| endpoint ({CONNECTIONS} keep-alive connections, {} s × 2 each, alternating) | requests/s |\n|---|---|\n\
         | actix-web hello-world | {baseline:.0} |\n\
         | `GET /api/v1/tasks/{{id}}` (JWT, SQLite) | {ours:.0} |\n\
         | ratio (target ≥ 0.5) | {r:.2}: {} |\n",
        DURATION.as_secs(),
        verdict(r >= 0.5)
    )
}
