//! What each client subcommand does.

use std::io::{BufRead as _, IsTerminal as _, Read as _};
use std::process::ExitCode;

use serde_json::{Map, Value, json};

use super::connection::Connection;
use super::follow::{self, Printer};
use super::render::{cut, table, text};
use super::{
    ApprovalsArgs, ClientCommand, ClientError, ClientOptions, LoginArgs, RunArgs, SessionCommand,
    TaskCommand,
};

pub(super) async fn run(
    options: &ClientOptions,
    command: ClientCommand,
) -> Result<ExitCode, ClientError> {
    let mut conn = Connection::open(&options.server)?;
    let json = options.json;
    match command {
        ClientCommand::Login(args) => login(&mut conn, args).await?,
        ClientCommand::Logout => {
            conn.logout()?;
            eprintln!("signed out of {}", conn.server);
        }
        ClientCommand::Task(TaskCommand::List) => task_list(&mut conn, json).await?,
        ClientCommand::Task(TaskCommand::Create { file }) => {
            task_create(&mut conn, &file, json).await?
        }
        ClientCommand::Task(TaskCommand::Run(args)) => {
            return task_run(&mut conn, args, json).await;
        }
        ClientCommand::Session(SessionCommand::Tail { id }) => {
            let mut printer = Printer::new(json);
            let result = follow::tail(&mut conn, &id, &mut printer).await;
            printer.finish();
            result?;
        }
        ClientCommand::Approvals(args) => approvals(&mut conn, &args, json).await?,
        ClientCommand::Approve(args) => decide(&mut conn, &args.id, "allow", json).await?,
        ClientCommand::Deny(args) => decide(&mut conn, &args.id, "deny", json).await?,
    }
    Ok(ExitCode::SUCCESS)
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

async fn login(conn: &mut Connection, args: LoginArgs) -> Result<(), ClientError> {
    let password = if args.password_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| ClientError::Input(format!("reading the password: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        rpassword::prompt_password("Password: ")
            .map_err(|e| ClientError::Input(format!("reading the password: {e}")))?
    };
    conn.login(&args.email, &password).await?;
    eprintln!("signed in to {} as {}", conn.server, args.email);
    Ok(())
}

async fn task_list(conn: &mut Connection, json: bool) -> Result<(), ClientError> {
    let tasks = conn.get("/tasks?limit=100").await?;
    if json {
        print_json(&tasks);
        return Ok(());
    }
    let rows = tasks["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|task| {
            let variables = task["variables"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["name"].as_str())
                .collect::<Vec<_>>()
                .join(", ");
            vec![
                text(task, "id"),
                text(task, "name"),
                variables,
                text(task, "schedule"),
            ]
        })
        .collect();
    println!("{}", table(&["ID", "NAME", "VARIABLES", "SCHEDULE"], rows));
    Ok(())
}

async fn task_create(
    conn: &mut Connection,
    file: &std::path::Path,
    json: bool,
) -> Result<(), ClientError> {
    let mut body = String::new();
    if file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut body)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut body))
    }
    .map_err(|e| ClientError::Input(format!("{}: {e}", file.display())))?;
    let body: Value = serde_json::from_str(&body)
        .map_err(|e| ClientError::Input(format!("{}: not JSON: {e}", file.display())))?;
    let task = conn.post("/tasks", &body).await?;
    if json {
        print_json(&task);
    } else {
        println!("{}", text(&task, "id"));
        eprintln!("created task {:?}", text(&task, "name"));
    }
    Ok(())
}

/// `name=value` pairs typed by the task's variable specs: integers and booleans as JSON
/// numbers and booleans, everything else as strings.
fn variables(task: &Value, pairs: &[String]) -> Result<Value, ClientError> {
    let mut values = Map::new();
    for pair in pairs {
        let (name, raw) = pair
            .split_once('=')
            .ok_or_else(|| ClientError::Input(format!("--var {pair:?}: write NAME=VALUE")))?;
        let kind = task["variables"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|spec| spec["name"] == name)
            .and_then(|spec| spec["type"].as_str())
            .unwrap_or("string");
        let value = match kind {
            "integer" => raw.parse::<i64>().map(Value::from).map_err(|_| {
                ClientError::Input(format!("--var {name}: {raw:?} is not an integer"))
            })?,
            "boolean" => raw.parse::<bool>().map(Value::from).map_err(|_| {
                ClientError::Input(format!("--var {name}: {raw:?} is not true or false"))
            })?,
            _ => Value::from(raw),
        };
        values.insert(name.to_owned(), value);
    }
    Ok(Value::Object(values))
}

async fn task_run(
    conn: &mut Connection,
    args: RunArgs,
    json: bool,
) -> Result<ExitCode, ClientError> {
    let task = conn.get(&format!("/tasks/{}", args.id)).await?;
    let variables = variables(&task, &args.vars)?;
    let run = conn
        .post(
            &format!("/tasks/{}/execute", args.id),
            &json!({"variables": variables}),
        )
        .await?;
    let id = text(&run, "id");
    if !args.follow {
        if json {
            print_json(&run);
        } else {
            println!("{id}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut printer = Printer::new(json);
    let outcome = follow::execution(conn, &id, &mut printer).await;
    printer.finish();
    let run = outcome?;
    let status = run["status"].as_str().unwrap_or_default().to_owned();
    if json {
        println!("{}", json!({"kind": "execution", "execution": run}));
    } else {
        let took = run["duration_seconds"]
            .as_f64()
            .map(|s| format!(" in {s:.1} s"))
            .unwrap_or_default();
        eprintln!("run {id} {status}{took}");
        if let Some(error) = run["error_message"].as_str() {
            eprintln!("  {error}");
        }
        if let Some(report) = run["report_id"].as_str() {
            eprintln!("  report: {}/api/v1/reports/{report}/download", conn.server);
        }
    }
    Ok(if status == "completed" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn approvals(
    conn: &mut Connection,
    args: &ApprovalsArgs,
    json: bool,
) -> Result<(), ClientError> {
    let all = if args.all { "&all=true" } else { "" };
    let list = conn
        .get(&format!("/approvals?status={}&limit=100{all}", args.status))
        .await?;
    if json {
        print_json(&list);
        return Ok(());
    }
    let rows = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            vec![
                text(a, "id"),
                text(a, "tool_name"),
                cut(&a["tool_input"].to_string(), 60),
                text(a, "session_id"),
                text(a, "expires_at"),
            ]
        })
        .collect();
    println!(
        "{}",
        table(&["ID", "TOOL", "INPUT", "SESSION", "EXPIRES"], rows)
    );
    Ok(())
}

/// Finds approval `id` among the caller's pending ones (an admin: everyone's), then answers it.
async fn decide(
    conn: &mut Connection,
    id: &str,
    decision: &str,
    json: bool,
) -> Result<(), ClientError> {
    let me = conn.get("/auth/me").await?;
    let all = if me["role"] == "admin" {
        "&all=true"
    } else {
        ""
    };
    let mut offset = 0;
    let approval = loop {
        let page = conn
            .get(&format!(
                "/approvals?status=pending&limit=100&offset={offset}{all}"
            ))
            .await?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if let Some(found) = items.iter().find(|a| a["id"] == id) {
            break found.clone();
        }
        if items.len() < 100 {
            return Err(ClientError::Input(format!(
                "no pending approval {id} of yours (see `overseer approvals`)"
            )));
        }
        offset += 100;
    };
    let path = approval["_links"]["answer"]["href"]
        .as_str()
        .and_then(|href| href.strip_prefix("/api/v1"))
        .map_or_else(
            || format!("/sessions/{}/approvals/{id}", text(&approval, "session_id")),
            str::to_owned,
        );
    let answered = conn.post(&path, &json!({"decision": decision})).await?;
    if json {
        print_json(&answered);
    } else {
        eprintln!(
            "{} {} ({})",
            if decision == "allow" {
                "allowed"
            } else {
                "denied"
            },
            text(&approval, "tool_name"),
            id
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_typed_by_the_task() {
        let task = json!({"variables": [
            {"name": "replicas", "type": "integer"}, {"name": "dry", "type": "boolean"},
            {"name": "cluster", "type": "string"}]});
        let pairs = ["replicas=3", "dry=true", "cluster=prod=eu", "other=x"].map(String::from);
        assert_eq!(
            variables(&task, &pairs).unwrap(),
            json!({"replicas": 3, "dry": true, "cluster": "prod=eu", "other": "x"})
        );
        assert!(
            matches!(variables(&task, &["replicas=three".into()]), Err(ClientError::Input(m)) if m.contains("replicas"))
        );
        assert!(matches!(
            variables(&task, &["novalue".into()]),
            Err(ClientError::Input(_))
        ));
    }
}
