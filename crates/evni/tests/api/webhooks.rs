//! Webhooks over HTTP: endpoints, the SSRF guard, and a real receiver that
//! verifies Standard Webhooks signatures, sees retries after 500s and never
//! a duplicate, also across a restart.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::health::{day_label, post_history, quiet_app, DAYS, SILENT, SILENT_DAYS};
use crate::helpers::*;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

/// A receiver on 127.0.0.1:0 that answers 500 to the first `failures`
/// requests and 200 after.
pub(crate) async fn receiver(failures: usize) -> (String, Arc<Mutex<Vec<Received>>>) {
    let (app, seen) = receiver_app(failures);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// The receiver's routes: POST /hook logs the request and answers 500 to
/// the first `failures` requests and 200 after.
pub(crate) fn receiver_app(failures: usize) -> (axum::Router, Arc<Mutex<Vec<Received>>>) {
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let mut log = log.lock().unwrap();
                log.push(Received { headers, body });
                if log.len() <= failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    (app, seen)
}

/// Verifies a delivery as a receiver would, with the secret alone.
pub(crate) fn verify(secret: &str, received: &Received) {
    let header = |name: &str| received.headers.get(name).unwrap().to_str().unwrap().to_owned();
    let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", received.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let signatures = header("webhook-signature");
    assert!(
        signatures.split(' ').any(|s| s == expected),
        "signature {signatures} is not {expected}"
    );
    let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "timestamp {timestamp}");
}

pub(crate) async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn private_allowed(c: &mut evni::Config) {
    c.webhook_allow_private = true;
    c.webhook_initial_backoff = "100ms".into();
}

#[tokio::test]
async fn a_receiver_verifies_signatures_sees_retries_and_never_a_duplicate() {
    let (url, seen) = receiver(2).await;
    let app = quiet_app(private_allowed).await;
    let created = app
        .post(
            "/v1/webhooks",
            &json!({"url": url, "authorization": "Bearer receiver-token", "description": "ops"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let endpoint = created["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["has_authorization"], true);
    assert!(created.get("authorization").is_none());

    post_history(&app, 0..=DAYS - 1).await;
    // Nothing runs on its own in this app; this request runs SHADE.
    let inference = app.get_ok(&format!("/v1/stations/{SILENT}/inference")).await;
    assert_eq!(inference["is_anomaly"], true, "{inference}");

    wait_for("two failures and a success", || seen.lock().unwrap().len() >= 3).await;
    let received = seen.lock().unwrap().clone();
    for r in &received {
        verify(&secret, r);
        assert_eq!(r.headers["authorization"], "Bearer receiver-token");
        assert_eq!(r.headers["content-type"], "application/json");
    }
    // A retry is the same event: same id, same body.
    assert!(received
        .iter()
        .all(|r| r.body == received[0].body && r.headers["webhook-id"] == received[0].headers["webhook-id"]));
    let payload: Value = serde_json::from_str(&received[0].body).unwrap();
    let mut keys: Vec<&str> = payload.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "analyzed_at",
            "anomaly_score",
            "charging_station_id",
            "detection_details",
            "event",
            "is_anomaly",
            "webhook_id"
        ]
    );
    assert_eq!(payload["event"], "station.anomaly_detected");
    assert_eq!(payload["charging_station_id"], SILENT);
    assert_eq!(payload["is_anomaly"], true);
    assert_eq!(
        payload["webhook_id"],
        received[0].headers["webhook-id"].to_str().unwrap()
    );
    assert!(payload["webhook_id"].as_str().unwrap().starts_with("wh-evt-"));
    assert_eq!(payload["detection_details"]["anomaly_type"], "station_silent");
    assert_eq!(
        payload["detection_details"]["affected_period"],
        day_label(*SILENT_DAYS.start())
    );

    // Every attempt is recorded (the last once the receiver has answered,
    // a moment after it saw the request).
    let path = format!("/v1/webhooks/{endpoint}/deliveries");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let deliveries = loop {
        let deliveries = app.get_ok(&path).await;
        if deliveries["items"][0]["status"] != "pending" || std::time::Instant::now() > deadline {
            break deliveries;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(deliveries["total"], 1, "{deliveries}");
    let delivery = &deliveries["items"][0];
    assert_eq!(delivery["status"], "delivered");
    assert_eq!(delivery["webhook_id"], payload["webhook_id"]);
    let codes: Vec<_> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 200]);

    // The same anomaly is found again after a restart (SHADE runs every
    // station at start): no second event.
    let app = app
        .restart_with(|c| {
            c.durability = "normal".into();
            c.shade_interval = "1h".into();
            c.shade_debounce = "1h".into();
            private_allowed(c);
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = app.get_ok(&format!("/v1/stations/{SILENT}/inference")).await;
    assert_eq!(after["detection_details"]["affected_period"], day_label(32));
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert_eq!(app.get_ok(&path).await["total"], 1);

    // The station charges again: one station.anomaly_resolved, and no
    // other event on the days after.
    post_history(&app, DAYS..=DAYS + 1).await;
    let inference = app.get_ok(&format!("/v1/stations/{SILENT}/inference")).await;
    assert_eq!(inference["is_anomaly"], false, "{inference}");
    wait_for("the resolved event", || seen.lock().unwrap().len() >= 4).await;
    let resolved: Value = serde_json::from_str(&seen.lock().unwrap()[3].body).unwrap();
    assert_eq!(resolved["event"], "station.anomaly_resolved", "{resolved}");
    assert_eq!(resolved["is_anomaly"], false);
    assert_eq!(resolved["charging_station_id"], SILENT);
    let details = &resolved["detection_details"];
    assert_eq!(details["anomaly_type"], "station_silent");
    assert_eq!(details["affected_period"], day_label(*SILENT_DAYS.start()));
    assert_eq!(details["status"], "resolved");
    assert_eq!(details["resolved_on"], day_label(DAYS));
    verify(&secret, &seen.lock().unwrap()[3]);
    for day in DAYS + 2..=DAYS + 3 {
        post_history(&app, day..=day).await;
        app.get_ok(&format!("/v1/stations/{SILENT}/inference")).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(seen.lock().unwrap().len(), 4);
    let deliveries = app.get_ok(&path).await;
    assert_eq!(deliveries["total"], 2, "{deliveries}");
}

#[tokio::test]
async fn the_ssrf_guard_refuses_loopback_and_private_targets() {
    let app = TestApp::spawn().await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.8/hook",
        "http://10.255.1.2:8080/",
        "http://localhost:9/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        // IPv6 forms that carry a loopback or private IPv4 address.
        "http://[::127.0.0.1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[2002:7f00:1::]/",
        "http://[2001:0:7f00:1::]/",
        "http://[64:ff9b::10.0.0.1]/",
    ] {
        let error = json_error(
            app.post("/v1/webhooks", &json!({"url": url})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(error["details"][0]["field"], "url", "{url}: {error}");
    }
    assert!(app.get_ok("/v1/webhooks").await["items"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn endpoints_are_managed_by_admins_and_validated() {
    let (url, _) = receiver(0).await;
    let app = quiet_app(private_allowed).await;
    // A write token may not manage webhooks.
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let writer = app
        .app_state
        .keys
        .issue(&tenant, evni_api::Scope::Write, Duration::from_secs(60))
        .unwrap();
    json_error(
        app.post_as(&writer, "/v1/webhooks", &json!({"url": url})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    for (body, field) in [
        (json!({}), "body"),
        (json!({"url": 5}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "ftp://example.com/"}), "url"),
        (json!({"url": url, "authorization": "a\nb"}), "authorization"),
        (json!({"url": url, "colour": "red"}), "colour"),
    ] {
        let error = json_error(
            app.post("/v1/webhooks", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(error["details"][0]["field"], field, "{body}: {error}");
    }
    let created: Value = app
        .post("/v1/webhooks", &json!({"url": url}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let list = app.get_ok("/v1/webhooks").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], id);
    assert!(
        list["items"][0].get("secret").is_none(),
        "the secret is shown once"
    );
    assert_eq!(
        list["items"][0]["events"],
        json!([
            "station.anomaly_detected",
            "station.anomaly_resolved",
            "network.drop_detected",
            "network.drop_resolved"
        ])
    );

    let delete = |token: String| {
        let app = &app;
        async move {
            app.client
                .delete(app.url(&format!("/v1/webhooks/{id}")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(delete(writer.clone()).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(delete(app.token.clone()).await.status(), StatusCode::NO_CONTENT);
    json_error(delete(app.token.clone()).await, StatusCode::NOT_FOUND).await;
    assert!(app.get_ok("/v1/webhooks").await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    // Its (empty) delivery log stays readable; another tenant's is a 404.
    assert_eq!(
        app.get_ok(&format!("/v1/webhooks/{id}/deliveries")).await["total"],
        0
    );
    let other = app.new_tenant("globex").await;
    json_error(
        app.get_as(&other, &format!("/v1/webhooks/{id}/deliveries")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn a_test_event_is_signed_retried_and_listed_like_any_delivery() {
    let (url, seen) = receiver(1).await;
    let app = quiet_app(private_allowed).await;
    let created: Value = app
        .post("/v1/webhooks", &json!({"url": url}))
        .await
        .json()
        .await
        .unwrap();
    let (id, secret) = (
        created["id"].as_str().unwrap(),
        created["secret"].as_str().unwrap(),
    );
    let path = format!("/v1/webhooks/{id}/test");
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let writer = app
        .app_state
        .keys
        .issue(&tenant, evni_api::Scope::Write, Duration::from_secs(60))
        .unwrap();
    json_error(
        app.post_as(&writer, &path, &json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let other = app.new_tenant("globex").await;
    json_error(
        app.post_as(&other, &path, &json!({})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    json_error(
        app.post("/v1/webhooks/ep_unknown/test", &json!({})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(seen.lock().unwrap().is_empty(), "refused requests send nothing");

    let queued = app.post(&path, &json!({})).await;
    assert_eq!(queued.status(), StatusCode::ACCEPTED);
    let queued: Value = queued.json().await.unwrap();
    assert_eq!(queued["event"], "webhook.test");
    let webhook_id = queued["webhook_id"].as_str().unwrap().to_owned();

    // The receiver answers 500 first: the same event comes again.
    wait_for("a failure and a success", || seen.lock().unwrap().len() >= 2).await;
    let received = seen.lock().unwrap().clone();
    for r in &received {
        verify(secret, r);
        assert_eq!(r.headers["webhook-id"], webhook_id.as_str());
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["event"], "webhook.test");
        assert_eq!(body["charging_station_id"], "evni-test");
        assert_eq!(body["is_anomaly"], false);
        assert_eq!(body["webhook_id"], webhook_id.as_str());
    }
    let deliveries = format!("/v1/webhooks/{id}/deliveries");
    // The receiver's 200 reaches it before evni records the attempt.
    let deadline = Instant::now() + Duration::from_secs(90);
    let listed = loop {
        let listed = app.get_ok(&deliveries).await;
        if listed["items"][0]["status"] == "delivered" {
            break listed;
        }
        assert!(Instant::now() < deadline, "never recorded as delivered: {listed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let delivery = &listed["items"][0];
    assert_eq!(listed["total"], 1);
    assert_eq!(delivery["webhook_id"], webhook_id.as_str());
    assert_eq!(delivery["event"], "webhook.test");
    assert_eq!(delivery["charging_station_id"], "evni-test");
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 2, "{delivery}");
    assert_eq!(delivery["attempts"][0]["status_code"], 500);
    assert_eq!(delivery["attempts"][1]["status_code"], 200);
}
