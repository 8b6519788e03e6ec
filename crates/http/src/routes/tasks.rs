//! `/tasks`: CRUD, execute, and a task's executions.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use overseer_domain::template::VariableSpec;
use overseer_domain::{
    AgentOptions, CronSchedule, NewTask, PromptTemplate, ReportFormat, Schedule, TaskId, TaskName,
    TaskTemplate, TimeZoneName, TriggerType,
};
use overseer_services::TaskPatch;
use serde::Deserialize;
use serde_json::Value;

use super::executions::{wait_for_end, wait_seconds};
use super::id;
use crate::HttpState;
use crate::body::JsonObject;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::pagination::{ListView, PageQuery};
use crate::views::{ExecutionView, TaskView, execution_path};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateTask {
    name: String,
    #[serde(default)]
    description: Option<String>,
    prompt_template: String,
    /// Declarations of the template's variables: `{"name", "type": "string"|"integer"|"boolean"|"enum", "values"?, "required"?, "default"?, "description"?}`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    variables: Vec<VariableSpec>,
    /// Agent options: model, allowed/disallowed/ask tools, permission mode, max turns, system prompt, MCP servers, builtin_servers (the service's own tool servers by name, e.g. `{"kubernetes_readonly": {}}`), env, add_dirs, max budget.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    sdk_options: Option<Value>,
    #[serde(default)]
    generate_report: bool,
    #[serde(default)]
    report_format: Option<String>,
    /// A cron pattern (5 fields, or 6 with seconds); scheduled runs use the variables' defaults.
    #[serde(default)]
    schedule: Option<String>,
    /// IANA time zone the pattern is read in (default `UTC`).
    #[serde(default)]
    schedule_timezone: Option<String>,
    /// `skip` (default) or `run_once`: what to do about ticks missed while no node ran.
    #[serde(default)]
    schedule_missed_ticks: Option<String>,
}

fn template(source: String, variables: Vec<VariableSpec>) -> Result<TaskTemplate, ApiError> {
    let parsed = PromptTemplate::parse(source)
        .map_err(|e| ApiError::invalid("prompt_template", e.to_string()))?;
    TaskTemplate::new(parsed, variables)
        .map_err(|e| ApiError::invalid("prompt_template", e.to_string()))
}

fn options(value: Option<Value>) -> Result<AgentOptions, ApiError> {
    value.map_or_else(
        || Ok(AgentOptions::default()),
        |v| AgentOptions::from_json(v).map_err(ApiError::from),
    )
}

fn format(value: Option<String>) -> Result<ReportFormat, ApiError> {
    value.map_or(Ok(ReportFormat::Markdown), |f| {
        f.parse().map_err(ApiError::from)
    })
}

impl CreateTask {
    fn try_into_domain(self) -> Result<NewTask, ApiError> {
        Ok(NewTask {
            name: TaskName::new(self.name)?,
            description: self.description,
            template: template(self.prompt_template, self.variables)?,
            options: options(self.sdk_options)?,
            generate_report: self.generate_report,
            report_format: format(self.report_format)?,
            schedule: Schedule::changed(
                None,
                Some(self.schedule.map(CronSchedule::new).transpose()?),
                self.schedule_timezone.map(TimeZoneName::new).transpose()?,
                self.schedule_missed_ticks.map(|m| m.parse()).transpose()?,
            )?,
        })
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateTask {
    /// The version the client edited; a newer stored version is a 409.
    #[serde(default)]
    expected_version: Option<u32>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    #[serde(default)]
    prompt_template: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    variables: Option<Vec<VariableSpec>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    sdk_options: Option<Value>,
    #[serde(default)]
    is_active: Option<bool>,
    #[serde(default)]
    generate_report: Option<bool>,
    #[serde(default)]
    report_format: Option<String>,
    /// `null` removes the schedule.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    schedule: Option<Option<String>>,
    #[serde(default)]
    schedule_timezone: Option<String>,
    #[serde(default)]
    schedule_missed_ticks: Option<String>,
}

/// `absent` → None, `null` → Some(None), a value → Some(Some(value)).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks", request_body = CreateTask, responses((status = 201, description = "The task", body = TaskView), crate::problem_responses::Errors), security(("bearer" = [])))]
#[post("/tasks")]
pub(crate) async fn create(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    body: JsonObject<CreateTask>,
) -> Result<HttpResponse, ApiError> {
    let task = state
        .services
        .tasks
        .create(&ctx, body.into_inner().try_into_domain()?)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/tasks/{}", task.id)))
        .json(TaskView::from(task)))
}

#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", responses((status = 200, description = "The caller's tasks, newest first", body = ListView<TaskView>), crate::problem_responses::Errors), params(("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"), ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "rows to skip")), security(("bearer" = [])))]
#[get("/tasks")]
pub(crate) async fn list(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().to_request()?;
    let tasks = state.services.tasks.list(&ctx, page).await?;
    Ok(HttpResponse::Ok().json(ListView::from_page(tasks, page, TaskView::from)))
}

#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks", responses((status = 200, description = "The task", body = TaskView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "task id")), security(("bearer" = [])))]
#[get("/tasks/{id}")]
pub(crate) async fn get_one(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let task = state
        .services
        .tasks
        .get(&ctx, id::<TaskId>(&path, "task")?)
        .await?;
    Ok(HttpResponse::Ok().json(TaskView::from(task)))
}

#[utoipa::path(patch, path = "/api/v1/tasks/{id}", tag = "tasks", request_body = UpdateTask, responses((status = 200, description = "The updated task", body = TaskView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "task id")), security(("bearer" = [])))]
#[patch("/tasks/{id}")]
pub(crate) async fn update(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    body: JsonObject<UpdateTask>,
) -> Result<HttpResponse, ApiError> {
    let task_id = id::<TaskId>(&path, "task")?;
    let body = body.into_inner();
    let current = state.services.tasks.get(&ctx, task_id).await?;
    let new_template = match (body.prompt_template, body.variables) {
        (None, None) => None,
        (source, variables) => Some(template(
            source.unwrap_or_else(|| current.template.template().source().to_owned()),
            variables.unwrap_or_else(|| current.template.variables().to_vec()),
        )?),
    };
    let patch = TaskPatch {
        name: body.name.map(TaskName::new).transpose()?,
        description: body.description,
        template: new_template,
        options: body.sdk_options.map(|v| options(Some(v))).transpose()?,
        is_active: body.is_active,
        generate_report: body.generate_report,
        report_format: body.report_format.map(|f| format(Some(f))).transpose()?,
        schedule: body
            .schedule
            .map(|s| s.map(CronSchedule::new).transpose())
            .transpose()?,
        schedule_timezone: body.schedule_timezone.map(TimeZoneName::new).transpose()?,
        schedule_missed_ticks: body.schedule_missed_ticks.map(|m| m.parse()).transpose()?,
    };
    let task = state
        .services
        .tasks
        .update(&ctx, task_id, body.expected_version, patch)
        .await?;
    Ok(HttpResponse::Ok().json(TaskView::from(task)))
}

#[utoipa::path(delete, path = "/api/v1/tasks/{id}", tag = "tasks", responses((status = 204, description = "Deleted (soft)"), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "task id")), security(("bearer" = [])))]
#[delete("/tasks/{id}")]
pub(crate) async fn remove(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .tasks
        .delete(&ctx, id::<TaskId>(&path, "task")?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ExecuteRequest {
    #[serde(default)]
    #[schema(value_type = Object)]
    variables: BTreeMap<String, Value>,
}

/// 202 with the queued execution and a `Location`; `Prefer: wait=N` (N ≤ 300) holds the
/// answer until the run ends or N seconds pass.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/execute", tag = "tasks", request_body = ExecuteRequest, responses((status = 202, description = "Queued (or, with Prefer: wait=N, finished); Location names the execution", body = ExecutionView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "task id"), ("prefer" = Option<String>, Header, description = "wait=N (0 to 300 s) holds the answer until the run ends")), security(("bearer" = [])))]
#[post("/tasks/{id}/execute")]
pub(crate) async fn execute(
    req: HttpRequest,
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    body: JsonObject<ExecuteRequest>,
) -> Result<HttpResponse, ApiError> {
    let task_id = id::<TaskId>(&path, "task")?;
    let wait = wait_seconds(&req)?;
    let mut execution = state
        .services
        .tasks
        .execute(&ctx, task_id, body.into_inner().variables, TriggerType::Api)
        .await?;
    if let Some(seconds) = wait {
        execution = wait_for_end(&state, &ctx, execution.id, seconds).await?;
    }
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, execution_path(execution.id)))
        .json(ExecutionView::from(execution)))
}

#[utoipa::path(get, path = "/api/v1/tasks/{id}/executions", tag = "tasks", responses((status = 200, description = "The task's executions, newest first", body = ListView<ExecutionView>), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "task id"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"), ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "rows to skip")), security(("bearer" = [])))]
#[get("/tasks/{id}/executions")]
pub(crate) async fn executions(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().to_request()?;
    let found = state
        .services
        .tasks
        .executions(&ctx, id::<TaskId>(&path, "task")?, page)
        .await?;
    Ok(HttpResponse::Ok().json(ListView::from_page(found, page, ExecutionView::from)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(update)
        .service(remove)
        .service(execute)
        .service(executions);
}
