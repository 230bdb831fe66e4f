//! Health, readiness and metrics.

use axum::http::StatusCode;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_metrics() {
    let app = App::new().await;
    app.person(&person(1, "张伟", COMMUNITY_A1)).await;
    let mut client = app.client();

    let health = client.get("/healthz").await;
    assert_eq!(
        (health.status, health.body.as_str()),
        (StatusCode::OK, "ok")
    );
    let ready = client.get("/readyz").await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (StatusCode::OK, "ready")
    );
    assert_eq!(
        client.get("/no/such/page").await.status,
        StatusCode::NOT_FOUND
    );
    let css = client.get("/static/app.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.content_type().starts_with("text/css"));

    let metrics = client.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.content_type().starts_with("text/plain"));
    let body = &metrics.body;
    assert!(
        body.contains("# TYPE zhucan_http_requests_total counter"),
        "{body}"
    );
    let count = |class: &str| -> u64 {
        let prefix = format!("zhucan_http_requests_total{{class=\"{class}\"}} ");
        body.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {class} line in {body}"))
            .parse()
            .unwrap()
    };
    assert!(count("2xx") >= 3, "{body}");
    assert!(count("4xx") >= 1, "{body}");
    assert!(body.contains("zhucan_http_request_duration_seconds_bucket{le=\"+Inf\"}"));
    assert!(body.contains("zhucan_http_request_duration_seconds_count"));
    assert!(body.lines().any(|l| l == "zhucan_persons 1"), "{body}");

    // Not ready once the database is gone; still alive.
    app.store.close().await;
    let ready = client.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(client.get("/healthz").await.status, StatusCode::OK);
}

/// A server removes import files an earlier version could leave behind after a crash, and
/// copies the audit chain's head outside the database before it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_clears_left_over_uploads_and_copies_the_audit_head_at_shutdown() {
    let app = App::new().await;
    app.person(&person(1, "张伟", COMMUNITY_A1)).await;
    let data = app.dir.path().join("served");
    std::fs::create_dir_all(data.join("uploads")).unwrap();
    std::fs::write(
        data.join("uploads/0190-left-over"),
        "440305196409010077,张明",
    )
    .unwrap();
    let head = data.join("audit-head");
    let state = zhucan_web::AppState::new(
        app.store.clone(),
        zhucan_web::WebConfig {
            data_dir: data.clone(),
            demo: false,
            secure_cookies: false,
            trust_proxy: false,
            sms_gateway: None,
            audit_head: Some(zhucan_store::HeadFile::new(&head)),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(zhucan_web::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    // The server has started once the catalog is loaded and the folder is gone.
    for _ in 0..100 {
        if !data.join("uploads").exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!data.join("uploads").exists());
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let copied = zhucan_store::HeadFile::new(&head).read().unwrap().unwrap();
    let last = app.store.audit_head().await.unwrap().unwrap();
    assert_eq!((copied.seq, copied.hash), (last.seq, last.hash));
}
