//! `/sessions`: create, list, get, send a message, messages, tool calls, interrupt, terminate,
//! archive, approvals, reports, stream tokens.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use overseer_domain::{
    AgentOptions, ApprovalId, ReportFormat, SessionId, SessionMode, SessionName,
};
use overseer_services::ReportSubject;
use serde::Deserialize;
use serde_json::{Value, json};

use super::id;
use crate::HttpState;
use crate::body::JsonObject;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::message_view::{Include, MessagePage, MessageView};
use crate::pagination::{ListView, PageQuery};
use crate::views::{ReportView, SessionView, ToolCallView};

/// The largest user message accepted, in bytes.
const MAX_MESSAGE_BYTES: usize = 256 * 1024;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateSession {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    sdk_options: Option<Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SendMessage {
    content: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ForkSession {
    /// The fork's name; by default the parent's with " (fork)".
    #[serde(default)]
    name: Option<String>,
    /// Branch off after this assistant message (its sequence number); by default after the
    /// whole conversation.
    #[serde(default)]
    at_sequence: Option<u64>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MessagesQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    limit: Option<u32>,
    /// `raw`: add each message's frame as the agent sent it.
    #[serde(default)]
    include: Option<Include>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
enum Decision {
    Allow,
    Deny,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ApprovalAnswer {
    decision: Decision,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateReport {
    format: String,
}

/// A session as the API shows it, with where its agent stands.
fn session_view(state: &HttpState, session: overseer_domain::Session) -> SessionView {
    let agent = state.services.sessions.agent_state(&session);
    SessionView::from(session).with_agent(agent)
}

fn session_id(raw: &str) -> Result<SessionId, ApiError> {
    id(raw, "session")
}

#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = CreateSession, responses((status = 201, description = "The session", body = SessionView), crate::problem_responses::Errors), security(("bearer" = [])))]
#[post("/sessions")]
pub(crate) async fn create(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    body: JsonObject<CreateSession>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let options = body
        .sdk_options
        .map_or_else(|| Ok(AgentOptions::default()), AgentOptions::from_json)?;
    let session = state
        .services
        .sessions
        .create(
            &ctx,
            SessionName::new(body.name)?,
            body.description,
            SessionMode::Interactive,
            options,
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/sessions/{}", session.id)))
        .json(session_view(&state, session)))
}

#[utoipa::path(post, path = "/api/v1/sessions/{id}/fork", tag = "sessions", request_body = ForkSession, responses((status = 201, description = "A new interactive session that continues the conversation so far (as a new conversation) in a copy of the parent's working directory; the parent is unchanged", body = SessionView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "the session to fork")), security(("bearer" = [])))]
#[post("/sessions/{id}/fork")]
pub(crate) async fn fork(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    body: JsonObject<ForkSession>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = body.name.map(SessionName::new).transpose()?;
    let session = state
        .services
        .sessions
        .fork(&ctx, session_id(&path)?, name, body.at_sequence)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/sessions/{}", session.id)))
        .json(session_view(&state, session)))
}

#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions", responses((status = 200, description = "The caller's sessions", body = ListView<SessionView>), crate::problem_responses::Errors), params(("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"), ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "rows to skip")), security(("bearer" = [])))]
#[get("/sessions")]
pub(crate) async fn list(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().to_request()?;
    let sessions = state.services.sessions.list(&ctx, page).await?;
    Ok(
        HttpResponse::Ok().json(ListView::from_page(sessions, page, |session| {
            session_view(&state, session)
        })),
    )
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "sessions", responses((status = 200, description = "The session", body = SessionView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id")), security(("bearer" = [])))]
#[get("/sessions/{id}")]
pub(crate) async fn get_one(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = state
        .services
        .sessions
        .get(&ctx, session_id(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(session_view(&state, session)))
}

/// 202: the turn runs in the background; follow it on the stream or the messages list.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/messages", tag = "sessions", request_body = SendMessage, responses((status = 202, description = "The turn runs; follow the stream or the messages"), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id")), security(("bearer" = [])))]
#[post("/sessions/{id}/messages")]
pub(crate) async fn send(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    body: JsonObject<SendMessage>,
) -> Result<HttpResponse, ApiError> {
    let id = session_id(&path)?;
    let content = body.into_inner().content;
    if content.trim().is_empty() {
        return Err(ApiError::invalid("content", "must not be empty"));
    }
    if content.len() > MAX_MESSAGE_BYTES {
        return Err(ApiError::too_large(
            "content",
            "max_message_bytes",
            MAX_MESSAGE_BYTES,
        ));
    }
    state
        .services
        .sessions
        .send_message(ctx, id, content)
        .await?;
    Ok(HttpResponse::Accepted().json(json!({
        "session_id": id,
        "_links": {"messages": {"href": format!("/api/v1/sessions/{id}/messages")}, "stream": {"href": format!("/api/v1/sessions/{id}/stream")}}
    })))
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/messages", tag = "sessions", responses((status = 200, description = "Messages after `after`, in order", body = MessagePage), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id"), ("after" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "sequence number to start after"), ("limit" = Option<u32>, Query, description = "1 to 1000"), ("include" = Option<Include>, Query, description = "`raw`: add each message's frame as the agent sent it")), security(("bearer" = [])))]
#[get("/sessions/{id}/messages")]
pub(crate) async fn messages(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    query: web::Query<MessagesQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::invalid("limit", "must be 1 to 1000"));
    }
    // The document's bound: sequences are 64-bit signed wherever they are stored.
    if i64::try_from(query.after).is_err() {
        return Err(ApiError::invalid(
            "after",
            format!("must be at most {}", i64::MAX),
        ));
    }
    let found = state
        .services
        .sessions
        .messages(&ctx, session_id(&path)?, query.after, limit)
        .await?;
    Ok(HttpResponse::Ok().json(MessagePage {
        next_after: found.last().map(|m| m.sequence_number),
        items: found
            .into_iter()
            .map(|m| MessageView::new(m, query.include))
            .collect(),
        after: query.after,
    }))
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/tool-calls", tag = "sessions", responses((status = 200, description = "Tool calls in call order", body = ListView<ToolCallView>), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"), ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "rows to skip")), security(("bearer" = [])))]
#[get("/sessions/{id}/tool-calls")]
pub(crate) async fn tool_calls(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().to_request()?;
    let calls = state
        .services
        .sessions
        .tool_calls(&ctx, session_id(&path)?, page)
        .await?;
    Ok(HttpResponse::Ok().json(ListView::from_page(calls, page, ToolCallView::from)))
}

#[utoipa::path(post, path = "/api/v1/sessions/{id}/interrupt", tag = "sessions", responses((status = 202, description = "The current turn is being stopped"), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id")), security(("bearer" = [])))]
#[post("/sessions/{id}/interrupt")]
pub(crate) async fn interrupt(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .sessions
        .interrupt(&ctx, session_id(&path)?)
        .await?;
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(post, path = "/api/v1/sessions/{id}/terminate", tag = "sessions", responses((status = 200, description = "The ended session", body = SessionView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id")), security(("bearer" = [])))]
#[post("/sessions/{id}/terminate")]
pub(crate) async fn terminate(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = state
        .services
        .sessions
        .terminate(&ctx, session_id(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(session_view(&state, session)))
}

#[utoipa::path(post, path = "/api/v1/sessions/{id}/archive", tag = "sessions", responses((status = 200, description = "The archived session", body = SessionView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id")), security(("bearer" = [])))]
#[post("/sessions/{id}/archive")]
pub(crate) async fn archive(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = state
        .services
        .sessions
        .archive(&ctx, session_id(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(session_view(&state, session)))
}

#[utoipa::path(post, path = "/api/v1/sessions/{id}/approvals/{approval_id}", tag = "sessions", request_body = ApprovalAnswer, responses((status = 200, description = "The answered approval: {id, status}"), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id"), ("approval_id" = uuid::Uuid, Path, description = "approval id")), security(("bearer" = [])))]
#[post("/sessions/{id}/approvals/{approval_id}")]
pub(crate) async fn answer_approval(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<(String, String)>,
    body: JsonObject<ApprovalAnswer>,
) -> Result<HttpResponse, ApiError> {
    let (session, approval) = path.into_inner();
    let session = session_id(&session)?;
    let approval: ApprovalId = id(&approval, "approval")?;
    state.services.sessions.get(&ctx, session).await?;
    let allow = matches!(body.decision, Decision::Allow);
    let answered = state
        .services
        .approvals
        .decide(&ctx, approval, allow)
        .await?;
    if answered.session_id != session {
        return Err(ApiError::not_found("approval"));
    }
    Ok(HttpResponse::Ok().json(json!({"id": answered.id, "status": answered.status()})))
}

#[utoipa::path(post, path = "/api/v1/sessions/{id}/reports", tag = "reports", request_body = CreateReport, responses((status = 201, description = "The report", body = ReportView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id")), security(("bearer" = [])))]
#[post("/sessions/{id}/reports")]
pub(crate) async fn create_report(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
    body: JsonObject<CreateReport>,
) -> Result<HttpResponse, ApiError> {
    let id = session_id(&path)?;
    let format: ReportFormat = body.into_inner().format.parse()?;
    state.services.sessions.get(&ctx, id).await?;
    let report = state
        .services
        .reports
        .generate(id, format, ReportSubject::default())
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/reports/{}", report.id)))
        .json(ReportView::from(report)))
}

/// A one-minute token for opening the stream where headers cannot be set (browsers).
#[utoipa::path(post, path = "/api/v1/sessions/{id}/stream-token", tag = "sessions", responses((status = 200, description = "A one-minute token for ?token= on the stream: {token, expires_in}"), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id")), security(("bearer" = [])))]
#[post("/sessions/{id}/stream-token")]
pub(crate) async fn stream_token(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = state.auth.stream_token(&ctx, session_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(json!({"token": token, "expires_in": 60})))
}

/// The largest transcript answered (its end, the latest turns).
const MAX_TRANSCRIPT_BYTES: usize = 16 * 1024 * 1024;

#[utoipa::path(get, path = "/api/v1/sessions/{id}/transcript", tag = "sessions", responses((status = 200, description = "The CLI's own log of the conversation, JSON lines (application/x-ndjson)"), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "session id")), security(("bearer" = [])))]
#[get("/sessions/{id}/transcript")]
pub(crate) async fn transcript(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let bytes = state
        .services
        .sessions
        .transcript(&ctx, session_id(&path)?, MAX_TRANSCRIPT_BYTES)
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .body(bytes))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(fork)
        .service(list)
        .service(get_one)
        .service(send)
        .service(messages)
        .service(tool_calls)
        .service(interrupt)
        .service(terminate)
        .service(archive)
        .service(answer_approval)
        .service(create_report)
        .service(stream_token)
        .service(transcript);
}
