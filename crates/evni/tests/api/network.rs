//! Network health over HTTP (issue 19): stations falling together are one
//! network event, readable from GET /v1/network/health and sent as signed
//! webhooks; no station is blamed for it.

use serde_json::{json, Value};

use crate::health::{day_at, day_label, quiet_app, until_quiet};
use crate::helpers::*;
use crate::webhooks::{private_allowed, receiver, verify, wait_for};

const STATIONS: [&str; 5] = ["NET-A", "NET-B", "NET-C", "NET-D", "NET-E"];
const DAYS: i64 = 40;
/// Days the whole network nearly stops: one session a day, at NET-A.
const DROP: std::ops::RangeInclusive<i64> = 30..=35;

async fn post_network(app: &TestApp) {
    for day in 0..DAYS {
        for (s, station) in STATIONS.iter().enumerate() {
            let sessions = match (DROP.contains(&day), s) {
                (false, _) => 3,
                (true, 0) => 1,
                (true, _) => 0,
            };
            for k in 0..sessions {
                let values: Vec<Value> = (0..=1)
                    .map(|i| {
                        json!({"timestamp": day_at(day, k * 180 + 60 * i),
                               "measurand": "Energy.Active.Import.Register", "unit": "kWh",
                               "value": 15.0 * i as f64})
                    })
                    .collect();
                let body = json!({"session_id": format!("{station}-{day}-{k}"), "charging_station_id": station,
                                  "connector_id": "1", "meter_values": values});
                json_ok(app.post("/v1/sessions", &body).await).await;
            }
        }
    }
}

#[tokio::test]
async fn stations_falling_together_are_one_network_event_sent_once() {
    let (url, seen) = receiver(0).await;
    let app = quiet_app(private_allowed).await;
    let created = app.post("/v1/webhooks", &json!({"url": url})).await;
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert!(created["events"]
        .as_array()
        .unwrap()
        .contains(&json!("network.drop_detected")));
    let secret = created["secret"].as_str().unwrap().to_owned();
    post_network(&app).await;
    // While data arrives, its latest day waits; a request then judges it.
    let early = app.get_ok("/v1/network/health").await;
    assert_eq!(early["judged_through"], day_label(DAYS - 2));
    until_quiet().await;

    let health = app.get_ok("/v1/network/health").await;
    let mut keys: Vec<&str> = health.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "analyzed_at",
            "detection_details",
            "events",
            "is_network_drop",
            "judged_through"
        ]
    );
    assert_eq!(health["judged_through"], day_label(DAYS - 1));
    assert_eq!(health["is_network_drop"], false, "{health}");
    let events = health["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{health}");
    let details = &events[0]["detection_details"];
    assert_eq!(details["event_type"], "network_drop");
    assert_eq!(details["affected_period"], day_label(*DROP.start()));
    assert_eq!(details["last_affected_day"], day_label(*DROP.end()));
    assert_eq!(details["status"], "resolved");
    assert_eq!(details["stations_fallen"], 5);
    assert!((0.5..=1.0).contains(&events[0]["anomaly_score"].as_f64().unwrap()));

    // The dashboard's overview lists it.
    let cookie = crate::ui::login(&app, &app.token).await;
    let (_, html) = crate::ui::page(&app, &cookie, "/ui/").await;
    let row = format!("{} to {}", day_label(*DROP.start()), day_label(*DROP.end()));
    assert!(html.contains(&row) && html.contains("5 of 5"), "{html}");

    // No station is blamed for what the whole network did.
    for station in STATIONS {
        let anomalies = app.get_ok(&format!("/v1/stations/{station}/anomalies")).await;
        assert_eq!(anomalies["total"], 0, "{station}: {anomalies}");
    }

    // One event when it was found, one when it was over; a later request
    // sends nothing more.
    wait_for("the detected and resolved events", || {
        seen.lock().unwrap().len() >= 2
    })
    .await;
    app.get_ok("/v1/network/health").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let received = seen.lock().unwrap().clone();
    let names: Vec<String> = received
        .iter()
        .map(|r| {
            verify(&secret, r);
            let body: Value = serde_json::from_str(&r.body).unwrap();
            assert!(body["charging_station_id"].is_null());
            assert_eq!(body["detection_details"]["event_type"], "network_drop");
            body["event"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(names, ["network.drop_detected", "network.drop_resolved"]);
}

#[tokio::test]
async fn a_network_without_data_is_healthy() {
    let app = quiet_app(|_| {}).await;
    let health = app.get_ok("/v1/network/health").await;
    assert_eq!(health["is_network_drop"], false);
    assert_eq!(health["events"], json!([]));
    let cookie = crate::ui::login(&app, &app.token).await;
    let (_, html) = crate::ui::page(&app, &cookie, "/ui/").await;
    assert!(html.contains("No network events."));
}

#[tokio::test]
async fn the_networks_day_ends_at_its_westernmost_station() {
    let app = quiet_app(|_| {}).await;
    let tokyo = app
        .client
        .patch(app.url("/v1/settings"))
        .bearer_auth(&app.token)
        .json(&json!({"time_zone": "Asia/Tokyo"}))
        .send()
        .await
        .unwrap();
    json_ok(tokyo).await;
    post_network(&app).await;
    app.get_ok("/v1/network/health").await;
    let store = app.app_state.engine.store().clone();
    let tenant = store.tenant_by_name("acme").await.unwrap().id;
    let offset = || {
        let store = store.clone();
        async move {
            store
                .network_health(tenant)
                .await
                .unwrap()
                .unwrap()
                .min_utc_offset_seconds
        }
    };
    // Every station in Tokyo: the network's day ends with theirs.
    assert_eq!(offset().await, 9 * 3600);
    // One station in Los Angeles: the network's day waits for it.
    let la = app
        .client
        .patch(app.url("/v1/stations/NET-E"))
        .bearer_auth(&app.token)
        .json(&json!({"metadata": {"time_zone": "America/Los_Angeles"}}))
        .send()
        .await
        .unwrap();
    json_ok(la).await;
    app.app_state.health.assess_network(tenant).await.unwrap();
    assert!(offset().await <= -7 * 3600);
}
