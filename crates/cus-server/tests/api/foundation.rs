//! Health, readiness and the territory catalogue, on both backends; readiness follows Redis
//! going away and coming back.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::fakes::OwnRedis;
use crate::helpers::wait_for_status;
use crate::helpers::{Backend, TestApp, on_both_backends, test_config};

on_both_backends!(health_and_readiness_answer, catalogue_is_served);

async fn health_and_readiness_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.expect("json")["status"],
        "ready"
    );
}

async fn catalogue_is_served(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let regiones: Vec<Value> = app.get("/api/regiones").await.json().await.expect("json");
    assert_eq!(regiones.len(), 16);
    let mut total = 0;
    for region in &regiones {
        let codigo = region["codigo"].as_u64().expect("code");
        let comunas: Vec<Value> = app
            .get(&format!("/api/regiones/{codigo}/comunas"))
            .await
            .json()
            .await
            .expect("json");
        assert!(
            comunas
                .iter()
                .all(|c| c["codigo_region"] == region["codigo"])
        );
        total += comunas.len();
        if codigo == 13 {
            assert_eq!(comunas.len(), 52);
            assert!(
                comunas
                    .iter()
                    .any(|c| c["codigo"] == 13101 && c["nombre"] == "Santiago")
            );
        }
    }
    assert_eq!(total, 346);
    assert_eq!(app.get("/api/regiones/99/comunas").await.status(), 404);
    assert_eq!(app.get("/api/regiones/abc/comunas").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_redis_down_and_up_without_restart() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut redis = OwnRedis::start(port);
    let mut config = test_config(Backend::Production).await;
    config.cache.url = format!("redis://127.0.0.1:{}", redis.port).into();
    // redis-server needs a moment to accept connections.
    let mut app = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .and_then(|c| c.get_connection())
            .is_ok()
        {
            app = Some(TestApp::spawn_with(config).await);
            break;
        }
    }
    let app = app.expect("own redis started");
    assert_eq!(wait_for_status(&app, 200).await, 200);

    redis.stop();
    assert_eq!(wait_for_status(&app, 503).await, 503);
    let body: Value = app.get("/readyz").await.json().await.expect("json");
    assert_eq!(body["status"], "unavailable");
    assert!(
        body.get("reasons").is_none(),
        "the public listener names no backend: {body}"
    );
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "the process stays up"
    );

    let _redis = OwnRedis::start(port);
    assert_eq!(
        wait_for_status(&app, 200).await,
        200,
        "recovers without a restart"
    );
}
