//! Running in production: request ids, metrics, encodings, the JSON error
//! shape for every error, and connections that trickle or idle.

use std::io::Write;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

#[tokio::test]
async fn every_response_carries_a_request_id_and_errors_quote_it() {
    let app = TestApp::spawn().await;
    let response = app.get("/v1/sessions").await;
    let generated = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(generated.len() >= 16, "{generated}");

    let response = app
        .client
        .get(app.url("/v1/sessions/nope"))
        .bearer_auth(&app.token)
        .header("x-request-id", "client-chose-this")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-chose-this");
    let error = json_error(response, StatusCode::NOT_FOUND).await;
    assert_eq!(error["request_id"], "client-chose-this");
}

#[tokio::test]
async fn errors_of_extractors_and_layers_use_the_json_shape() {
    let app = TestApp::spawn().await;
    // A path parameter that is not UTF-8.
    let error = json_error(app.get("/v1/sessions/%FF").await, StatusCode::BAD_REQUEST).await;
    assert!(
        error["message"].as_str().unwrap().contains("session_id"),
        "{error}"
    );
    assert!(error["request_id"].is_string(), "{error}");
    // Explain takes `{}`; a larger body than the limit is 413 in the shape too.
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 2048).await;
    json_ok(
        app.post(
            "/v1/sessions",
            &session("s1", "ST-1", steady_charge(10, 11.0, 0.0)),
        )
        .await,
    )
    .await;
    let big = json!({"padding": "x".repeat(4096)});
    let error = json_error(
        app.post("/v1/sessions/s1/explain", &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(error["message"].as_str().unwrap().contains("2048"), "{error}");
    let error = json_error(
        app.post("/v1/sessions/s1/explain", &json!([null, null])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        error["details"][0]["problem"],
        "expected a JSON object, got an array"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn gzip_bodies_are_decoded_within_the_limits_and_other_encodings_are_415() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 64 * 1024).await;
    let body = session("s1", "ST-1", steady_charge(30, 11.0, 0.0)).to_string();
    let send = |bytes: Vec<u8>, encoding: &'static str| {
        app.client
            .post(app.url("/v1/sessions"))
            .bearer_auth(&app.token)
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(bytes)
            .send()
    };
    let verdict = json_ok(send(gzip(body.as_bytes()), "gzip").await.unwrap()).await;
    assert_eq!(verdict["status"], "active", "{verdict}");

    let error = json_error(
        send(body.as_bytes().to_vec(), "br").await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert!(error["message"].as_str().unwrap().contains("gzip"), "{error}");

    // 200 KiB of readings that compress to a few KiB: the limit counts decoded bytes.
    let bomb = session("s2", "ST-1", steady_charge(1500, 11.0, 0.0)).to_string();
    assert!(bomb.len() > 128 * 1024);
    let error = json_error(
        send(gzip(bomb.as_bytes()), "gzip").await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(error["code"], "payload_too_large");
    assert_eq!(app.get_ok("/v1/statistics").await["total_sessions"], 1);
}

#[tokio::test]
async fn metrics_report_requests_analyses_and_queues_and_can_ask_for_a_token() {
    let app = TestApp::spawn_with(|c| c.metrics_token = Some("scrape-me".into())).await;
    json_ok(app.post("/v1/sessions", &reference_example()).await).await;
    let mut values = steady_charge(30, 11.0, 100.0);
    values.push(kwh(31, 90.0));
    json_ok(app.post("/v1/sessions", &session("s2", "ST-1", values)).await).await;
    // Judging a station is a SHADE run.
    json_ok(app.get("/v1/stations/ST-1/inference").await).await;

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    json_error(response, StatusCode::UNAUTHORIZED).await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        r#"evni_http_requests_total{method="POST",route="/v1/sessions",status="200"}"#,
        "evni_http_request_duration_seconds_bucket{",
        "evni_analyses_total",
        r#"evni_anomalies_total{detector="rule",category="KWH_DECREASE"}"#,
        "evni_store_write_seconds_bucket",
        "evni_jobs_queued 0",
        "evni_webhook_deliveries_pending 0",
        "evni_hot_cache_sessions",
        "evni_shade_runs_total",
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }
    // The write-ahead log is SQLite's.
    assert_eq!(
        text.contains("evni_sqlite_wal_bytes"),
        app.database.is_none(),
        "{text}"
    );
}

#[tokio::test]
async fn batches_and_uploads_stop_at_the_session_limit_while_streaming() {
    let app = TestApp::spawn_with(|c| c.max_batch_sessions = 10).await;
    let sessions: Vec<_> = (0..50)
        .map(|i| session(&format!("b{i}"), "ST-1", vec![kwh(0, 1.0)]))
        .collect();
    let error = json_error(
        app.post("/v1/sessions/batch", &json!({ "sessions": sessions }))
            .await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("limit is 10"),
        "{error}"
    );

    let lines: String = sessions.iter().map(|s| format!("{s}\n")).collect();
    let response = app
        .client
        .post(app.url("/v1/models/uploads"))
        .bearer_auth(&app.token)
        .header("content-type", "application/x-ndjson")
        .body(lines)
        .send()
        .await
        .unwrap();
    let error = json_error(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(error["message"].as_str().unwrap().contains("10"), "{error}");
    assert_eq!(app.get_ok("/v1/statistics").await["total_sessions"], 0);
}

/// Reads until the server closes the connection; returns what it sent.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection in time")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn slow_and_idle_connections_are_closed_and_health_stays_fast() {
    let app = TestApp::spawn_with(|c| c.header_read_timeout = "1s".into()).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let started = Instant::now();

    // Headers that never end.
    let mut slow_headers = TcpStream::connect(&address).await.unwrap();
    slow_headers
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A body trickling one byte a second (grace: twice the header timeout).
    let mut slow_body = TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
        app.token
    );
    slow_body.write_all(head.as_bytes()).await.unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..30 {
            if slow_body.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        slow_body
    });
    // An idle keep-alive connection after one request.
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();

    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    until_closed(&mut slow_headers, Duration::from_secs(5)).await;
    let answer = until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut slow_body = trickle.await.unwrap();
    let answer = until_closed(&mut slow_body, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
