//! `GET /health`: 200 when every probe passes, 503 naming the failing components otherwise.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use std::sync::Arc;

use overseer_ports::HealthProbe;

/// The probes `/health` asks.
#[derive(Clone)]
pub(crate) struct Probes(pub Vec<Arc<dyn HealthProbe>>);

#[derive(Serialize)]
struct HealthView {
    status: &'static str,
    components: BTreeMap<&'static str, &'static str>,
}

#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, description = "Every component answers"), (status = 503, description = "A component does not answer")))]
#[get("/health")]
pub(crate) async fn health(probes: web::Data<Probes>) -> HttpResponse {
    let mut components = BTreeMap::new();
    let mut healthy = true;
    for probe in &probes.0 {
        let ok = probe.check().await.is_ok();
        if !ok {
            tracing::warn!(component = probe.component(), "health check failed");
        }
        healthy &= ok;
        components.insert(probe.component(), if ok { "ok" } else { "unavailable" });
    }
    let view = HealthView {
        status: if healthy { "ok" } else { "unavailable" },
        components,
    };
    if healthy {
        HttpResponse::Ok().json(view)
    } else {
        HttpResponse::ServiceUnavailable().json(view)
    }
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use actix_web::{App, test};
    use overseer_ports::MockHealthProbe;
    use serde_json::{Value, json};

    use super::{Probes, configure};

    fn probe(result: Result<(), String>) -> MockHealthProbe {
        let mut probe = MockHealthProbe::new();
        probe.expect_component().return_const("database");
        probe.expect_check().returning(move || result.clone());
        probe
    }

    async fn get_health(result: Result<(), String>) -> (u16, Value) {
        let probes = Probes(vec![Arc::new(probe(result))]);
        let app = test::init_service(
            App::new()
                .app_data(actix_web::web::Data::new(probes))
                .configure(configure),
        )
        .await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/health").to_request()).await;
        let status = response.status().as_u16();
        (status, test::read_body_json(response).await)
    }

    #[actix_web::test]
    async fn healthy_database_answers_200() {
        let (status, body) = get_health(Ok(())).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"status": "ok", "components": {"database": "ok"}})
        );
    }

    #[actix_web::test]
    async fn failing_database_answers_503_without_details() {
        let (status, body) =
            get_health(Err("connection refused to 10.0.0.5 as admin".into())).await;
        assert_eq!(status, 503);
        assert_eq!(
            body,
            json!({"status": "unavailable", "components": {"database": "unavailable"}})
        );
    }
}
