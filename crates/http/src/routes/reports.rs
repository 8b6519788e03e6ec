//! `/reports/{id}` and its download.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use overseer_domain::{ReportFormat, ReportId};

use super::id;
use crate::HttpState;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::views::ReportView;

fn content_type(format: ReportFormat) -> &'static str {
    match format {
        ReportFormat::Markdown => "text/markdown; charset=utf-8",
        ReportFormat::Html => "text/html; charset=utf-8",
        ReportFormat::Json => "application/json",
        ReportFormat::Pdf => "application/pdf",
    }
}

#[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "reports", responses((status = 200, description = "The report", body = ReportView), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "report id")), security(("bearer" = [])))]
#[get("/reports/{id}")]
pub(crate) async fn get_one(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let report = state
        .services
        .reports
        .get(&ctx, id::<ReportId>(&path, "report")?)
        .await?;
    Ok(HttpResponse::Ok().json(ReportView::from(report)))
}

#[utoipa::path(get, path = "/api/v1/reports/{id}/download", tag = "reports", responses((status = 200, description = "The report file (markdown, html, json or pdf)"), crate::problem_responses::Errors), params(("id" = uuid::Uuid, Path, description = "report id")), security(("bearer" = [])))]
#[get("/reports/{id}/download")]
pub(crate) async fn download(
    Caller(ctx): Caller,
    state: web::Data<HttpState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (report, bytes) = state
        .services
        .reports
        .download(&ctx, id::<ReportId>(&path, "report")?)
        .await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type(report.format))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"report-{}.{}\"",
                report.id,
                report.format.extension()
            ),
        ))
        .body(bytes))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_one).service(download);
}
