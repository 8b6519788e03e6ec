//! What a request that no route serves gets: 405 with `Allow` when its path is one the API
//! document declares (for other methods), 404 otherwise. The document is the one list of
//! routes, so the two cannot drift apart.

use std::sync::OnceLock;

use actix_web::{HttpRequest, HttpResponse};
use utoipa::openapi::PathItem;

use crate::error::ApiError;

/// A documented path: its segments (`None` for a `{parameter}`) and its methods, as `Allow`
/// lists them. No two documented paths match the same request path (a test checks), so the
/// first match is the only one.
struct Route {
    segments: Vec<Option<String>>,
    allow: String,
}

fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        crate::openapi::document()
            .paths
            .paths
            .iter()
            .map(|(path, item)| Route {
                segments: path
                    .trim_start_matches('/')
                    .split('/')
                    .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                    .collect(),
                allow: methods(item).join(", "),
            })
            .collect()
    })
}

/// The item's methods, in alphabetical order.
fn methods(item: &PathItem) -> Vec<&'static str> {
    let methods: Vec<&'static str> = [
        ("DELETE", item.delete.is_some()),
        ("GET", item.get.is_some()),
        ("HEAD", item.head.is_some()),
        ("OPTIONS", item.options.is_some()),
        ("PATCH", item.patch.is_some()),
        ("POST", item.post.is_some()),
        ("PUT", item.put.is_some()),
        ("TRACE", item.trace.is_some()),
    ]
    .into_iter()
    .filter_map(|(method, declared)| declared.then_some(method))
    .collect();
    methods
}

/// The methods the document declares for `path`, if it declares the path at all.
fn allowed(path: &str) -> Option<&'static String> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    routes()
        .iter()
        .find(|route| route.matches(&segments))
        .map(|route| &route.allow)
}

impl Route {
    fn matches(&self, segments: &[&str]) -> bool {
        self.segments.len() == segments.len()
            && self.segments.iter().zip(segments).all(|(want, got)| {
                !got.is_empty() && want.as_deref().is_none_or(|want| want == *got)
            })
    }
}

/// The default service: 405 for a documented path, 404 for anything else.
pub(crate) async fn unrouted(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    match allowed(request.path()) {
        Some(allow) => Err(ApiError::method_not_allowed(allow)),
        None => Err(ApiError::not_found("resource")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_paths_list_their_methods_and_others_none() {
        assert_eq!(
            allowed("/api/v1/tasks").map(String::as_str),
            Some("GET, POST")
        );
        assert_eq!(
            allowed("/api/v1/tasks/anything").map(String::as_str),
            Some("DELETE, GET, PATCH")
        );
        assert_eq!(allowed("/health").map(String::as_str), Some("GET"));
        assert_eq!(
            allowed("/api/v1/tasks/x/execute").map(String::as_str),
            Some("POST")
        );
        assert_eq!(allowed("/api/v1/nothing"), None);
        assert_eq!(allowed("/api/v1/tasks/"), None, "an empty segment is no id");
        assert_eq!(allowed("/api/v1/tasks/x/y/z"), None);
    }

    #[test]
    fn no_two_documented_paths_match_one_request_path() {
        // A path with each parameter replaced by its name matches its own template; it must
        // match no other, or `allowed` would answer for the first only.
        for route in routes() {
            let concrete: Vec<&str> = route
                .segments
                .iter()
                .map(|s| s.as_deref().unwrap_or("some-id"))
                .collect();
            let matching = routes().iter().filter(|r| r.matches(&concrete)).count();
            assert_eq!(matching, 1, "{concrete:?}");
        }
    }
}
