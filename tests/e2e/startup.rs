use overseer_e2e::{spawn_postgres, spawn_sqlite, temp_data_dir};

#[tokio::test]
async fn starts_on_embedded_sqlite_with_no_configuration() {
    let data_dir = temp_data_dir();
    let app = spawn_sqlite(data_dir.clone()).await;
    let (status, body) = app.get("/health").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""database":"ok""#), "{body}");
    assert!(
        data_dir.join("overseer.db").exists(),
        "the SQLite file lives in the data dir"
    );

    // A second start on the same data dir finds the migrations applied and starts again.
    let again = spawn_sqlite(data_dir).await;
    assert_eq!(again.get("/health").await.0, 200);
}

#[tokio::test]
async fn starts_on_postgres_from_a_database_url() {
    let Some(app) = spawn_postgres().await else {
        return;
    };
    let (status, body) = app.get("/health").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn unknown_path_is_404() {
    let app = spawn_sqlite(temp_data_dir()).await;
    assert_eq!(app.get("/nope").await.0, 404);
}

#[tokio::test]
async fn serves_the_committed_openapi_document_and_docs() {
    let app = spawn_sqlite(temp_data_dir()).await;
    let (status, body) = app.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
            .unwrap();
    let served: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        served,
        serde_json::from_str::<serde_json::Value>(&committed).unwrap()
    );
    // Swagger UI from the binary: nothing on the page comes from elsewhere.
    let (status, moved) = app.get("/docs").await;
    assert_eq!(status, 308, "{moved}");
    let (status, page) = app.get("/docs/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("swagger-ui"), "{page}");
    for external in ["http://", "https://", "//unpkg", "//cdn"] {
        assert!(!page.contains(external), "{external} in {page}");
    }
    let (status, init) = app.get("/docs/swagger-initializer.js").await;
    assert_eq!(status, 200);
    assert!(init.contains("/api/openapi.json"), "{init}");
    assert!(!init.contains("validator.swagger.io"), "{init}");
    let (status, bundle) = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(status, 200);
    assert!(bundle.len() > 100_000, "{}", bundle.len());
}
