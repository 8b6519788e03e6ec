//! The web console: a small single-page app served from the binary at `/`.
//!
//! Its files (`crates/http/console/`) are compiled in with `include_bytes!`, so the console
//! needs no second server and no network at run time. It is plain ES modules with no build
//! step; the three libraries it uses (marked, DOMPurify, Pico CSS) are copied from their npm
//! packages, pinned in `package.json`, by `scripts/vendor-console.sh` (CI checks the copies
//! match). Every response carries a Content-Security-Policy that lets a page load and call
//! nothing but this origin, and run no inline script.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, get, web};

use crate::error::ApiError;

/// What a console page may load and where it may connect: this origin only, no inline
/// script. Inline styles are allowed for the HTML reports shown in a sandboxed frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
     connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// One file of the console.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $path)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("console.css", CSS),
    asset!("vendor/pico.min.css", CSS),
    asset!("vendor/marked.esm.js", JS),
    asset!("vendor/purify.es.mjs", JS),
    asset!("js/app.js", JS),
    asset!("js/shell.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/live.js", JS),
    asset!("js/markdown.js", JS),
    asset!("js/views/signin.js", JS),
    asset!("js/views/tasks.js", JS),
    asset!("js/views/task_form.js", JS),
    asset!("js/views/executions.js", JS),
    asset!("js/views/sessions.js", JS),
    asset!("js/views/transcript.js", JS),
    asset!("js/views/approvals.js", JS),
    asset!("js/views/reports.js", JS),
    asset!("js/views/audit.js", JS),
    asset!("js/views/admin.js", JS),
    asset!("js/views/notifications.js", JS),
];

fn serve(asset: &Asset) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response
        .content_type(asset.content_type)
        // Small files without hashed names: the browser revalidates, so an upgrade shows at once.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    response.body(asset.bytes)
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

/// `/`: the console's page; every view lives behind `#/…` in it.
#[get("/")]
async fn index() -> Result<HttpResponse, ApiError> {
    find("index.html")
        .map(serve)
        .ok_or_else(|| ApiError::not_found("console page"))
}

/// `/console/{path}`: the console's scripts and styles.
#[get("/console/{path:.*}")]
async fn file(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    find(&path)
        .filter(|asset| asset.path != "index.html")
        .map(serve)
        .ok_or_else(|| ApiError::not_found("console file"))
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(index).service(file);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_the_console_folder_is_served_and_nothing_else() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut on_disk = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    let relative = path.strip_prefix(&root).unwrap();
                    on_disk.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut served: Vec<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
        served.sort();
        assert_eq!(served, on_disk);
    }

    #[test]
    fn content_types_follow_the_extension() {
        for asset in ASSETS {
            let expected = match asset.path.rsplit('.').next() {
                Some("js" | "mjs") => JS,
                Some("css") => CSS,
                Some("html") => HTML,
                other => panic!("unexpected file type {other:?}"),
            };
            assert_eq!(asset.content_type, expected, "{}", asset.path);
        }
    }
}
