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

#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, description = "Every component answers: {status: ok, components}"), (status = 503, description = "A component does not answer: status `unavailable` (the database) or `degraded` (e.g. `agent_runtime`: no working CLI; everything but running agents works)")))]
#[get("/health")]
pub(crate) async fn health(probes: web::Data<Probes>) -> HttpResponse {
    let mut components = BTreeMap::new();
    let (mut healthy, mut essentials) = (true, true);
    for probe in &probes.0 {
        let ok = probe.check().await.is_ok();
        if !ok {
            tracing::warn!(component = probe.component(), "health check failed");
            essentials &= !probe.essential();
        }
        healthy &= ok;
        components.insert(probe.component(), if ok { "ok" } else { "unavailable" });
    }
    let status = match (healthy, essentials) {
        (true, _) => "ok",
        (false, true) => "degraded",
        (false, false) => "unavailable",
    };
    let view = HealthView { status, components };
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

    fn probe(
        component: &'static str,
        essential: bool,
        result: Result<(), String>,
    ) -> Arc<dyn overseer_ports::HealthProbe> {
        let mut probe = MockHealthProbe::new();
        probe.expect_component().return_const(component);
        probe.expect_essential().return_const(essential);
        probe.expect_check().returning(move || result.clone());
        Arc::new(probe)
    }

    async fn get_health(result: Result<(), String>) -> (u16, Value) {
        health_of(vec![probe("database", true, result)]).await
    }

    async fn health_of(probes: Vec<Arc<dyn overseer_ports::HealthProbe>>) -> (u16, Value) {
        let probes = Probes(probes);
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

    #[actix_web::test]
    async fn a_missing_agent_runtime_is_degraded_and_the_database_down_unavailable() {
        let runtime_down = || probe("agent_runtime", false, Err("no CLI".into()));
        let (status, body) = health_of(vec![probe("database", true, Ok(())), runtime_down()]).await;
        assert_eq!(status, 503);
        assert_eq!(
            body,
            json!({"status": "degraded", "components": {"database": "ok", "agent_runtime": "unavailable"}})
        );
        let (status, body) = health_of(vec![
            probe("database", true, Err("down".into())),
            runtime_down(),
        ])
        .await;
        assert_eq!(status, 503);
        assert_eq!(body["status"], "unavailable");
    }
}
