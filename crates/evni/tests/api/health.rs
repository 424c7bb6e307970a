//! Station health over HTTP: GET /v1/stations/{id}/inference and
//! /anomalies, SHADE runs on request and when a station's data changes.

use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// The station that goes silent, and one that keeps its sessions.
pub const SILENT: &str = "ST-HEALTH";
pub const STEADY: &str = "ST-STEADY";
/// Days of history; the silent station has no sessions on these.
pub const DAYS: i64 = 36;
pub const SILENT_DAYS: RangeInclusive<i64> = 32..=35;

/// Day `day` after 2026-03-01, `minute` minutes after 08:00 UTC.
pub fn day_at(day: i64, minute: i64) -> String {
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z").unwrap();
    (t0 + chrono::Duration::days(day) + chrono::Duration::minutes(minute))
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn day_label(day: i64) -> String {
    day_at(day, 0)[..10].to_string()
}

/// Four 20 kWh sessions a day at each station, in day order, except the
/// silent days of [`SILENT`].
pub async fn post_history(app: &TestApp, days: RangeInclusive<i64>) {
    for day in days {
        for station in [STEADY, SILENT] {
            if station == SILENT && SILENT_DAYS.contains(&day) {
                continue;
            }
            for k in 0..4 {
                let start = k * 150;
                let values: Vec<Value> = (0..=3)
                    .map(|i| {
                        json!({"timestamp": day_at(day, start + 20 * i),
                               "measurand": "Energy.Active.Import.Register", "unit": "kWh",
                               "value": 1000.0 + 80.0 * day as f64 + 20.0 * k as f64 + 20.0 * i as f64 / 3.0})
                    })
                    .collect();
                let body = json!({"session_id": format!("{station}-{day}-{k}"), "charging_station_id": station,
                                  "connector_id": "1", "meter_values": values});
                json_ok(app.post("/v1/sessions", &body).await).await;
            }
        }
    }
}

/// Waits until the tenant's latest day is judged: not while its data
/// changed in the last 5 s (an import may still be filling that day).
pub async fn until_quiet() {
    tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
}

/// An app whose SHADE runs only on request (and once at start).
pub async fn quiet_app(adjust: impl FnOnce(&mut evni::Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        c.durability = "normal".into();
        c.shade_interval = "1h".into();
        c.shade_debounce = "1h".into();
        adjust(c);
    })
    .await
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn inference_and_anomaly_history_have_the_reference_shapes() {
    let app = quiet_app(|_| {}).await;
    post_history(&app, 0..=DAYS - 1).await;
    until_quiet().await;

    let inference = app.get_ok(&format!("/v1/stations/{SILENT}/inference")).await;
    assert_eq!(
        keys(&inference),
        [
            "analyzed_at",
            "anomaly_score",
            "charging_station_id",
            "detection_details",
            "is_anomaly"
        ]
    );
    assert_eq!(inference["charging_station_id"], SILENT);
    assert_eq!(inference["is_anomaly"], true, "{inference}");
    let score = inference["anomaly_score"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&score), "{inference}");
    let details = &inference["detection_details"];
    assert_eq!(details["anomaly_type"], "station_silent");
    assert_eq!(details["affected_period"], day_label(*SILENT_DAYS.start()));
    assert_eq!(details["actual_sessions"], 0);
    assert!(
        details["expected_sessions"].as_f64().unwrap() >= 14.0,
        "{details}"
    );
    assert!(inference["analyzed_at"].as_str().unwrap().ends_with('Z'));

    // The same by internal UUID; the steady station is healthy, with the
    // figures its verdict rests on.
    let uuid = app.get_ok(&format!("/v1/stations/{SILENT}")).await["charging_station_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_uuid = app.get_ok(&format!("/v1/stations/{uuid}/inference")).await;
    assert_eq!(by_uuid["detection_details"], inference["detection_details"]);
    let steady = app.get_ok(&format!("/v1/stations/{STEADY}/inference")).await;
    assert_eq!(steady["is_anomaly"], false, "{steady}");
    assert!(steady["anomaly_score"].as_f64().unwrap() < 0.5);
    assert!(steady["detection_details"]["anomaly_type"].is_null());
    assert_eq!(steady["detection_details"]["actual_energy_kwh"], 80.0);

    let history = app.get_ok(&format!("/v1/stations/{SILENT}/anomalies")).await;
    assert_eq!(keys(&history), ["items", "page", "page_size", "total"]);
    assert_eq!(history["total"], 1, "{history}");
    assert_eq!(
        (history["page"].as_u64(), history["page_size"].as_u64()),
        (Some(1), Some(20))
    );
    let item = &history["items"][0];
    assert_eq!(
        keys(item),
        [
            "analyzed_at",
            "anomaly_score",
            "detection_details",
            "inference_id",
            "is_anomaly"
        ]
    );
    assert!(item["inference_id"].as_str().unwrap().starts_with("inf-"));
    assert_eq!(item["is_anomaly"], true);
    assert_eq!(item["detection_details"]["anomaly_type"], "station_silent");
    assert_eq!(item["detection_details"]["affected_period"], day_label(32));
    let empty = app
        .get_ok(&format!("/v1/stations/{STEADY}/anomalies?page=2&page_size=5"))
        .await;
    assert_eq!(empty, json!({"items": [], "total": 0, "page": 2, "page_size": 5}));

    for query in ["page_size=101", "page_size=0", "page=0", "page=x"] {
        let error = json_error(
            app.get(&format!("/v1/stations/{SILENT}/anomalies?{query}")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(
            error["details"][0]["field"].as_str().unwrap().starts_with("page"),
            "{error}"
        );
    }
    for path in ["/v1/stations/NOPE/inference", "/v1/stations/NOPE/anomalies"] {
        let error = json_error(app.get(path).await, StatusCode::NOT_FOUND).await;
        assert!(error["message"].as_str().unwrap().contains("NOPE"));
    }
    // Another tenant sees none of it.
    let other = app.new_tenant("globex").await;
    json_error(
        app.get_as(&other, &format!("/v1/stations/{SILENT}/inference"))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn a_new_station_is_analysed_on_request_and_says_why_it_is_not_judged() {
    let app = quiet_app(|_| {}).await;
    post_history(&app, 0..=2).await;
    let inference = app.get_ok(&format!("/v1/stations/{STEADY}/inference")).await;
    assert_eq!(inference["is_anomaly"], false);
    assert!(inference["detection_details"]["note"]
        .as_str()
        .unwrap()
        .contains("history"));
    assert_eq!(inference["detection_details"]["actual_sessions"], 4);
}

#[tokio::test]
async fn shade_runs_when_a_stations_data_changes() {
    let app = TestApp::spawn_with(|c| {
        c.durability = "normal".into();
        c.shade_interval = "1h".into();
        c.shade_debounce = "300ms".into();
    })
    .await;
    post_history(&app, 0..=DAYS - 1).await;
    // Generous: CI runs the suite on two loaded cores; it returns as soon as
    // the run has happened.
    // No request asks for it: the change itself triggers the run.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let history = app.get_ok(&format!("/v1/stations/{SILENT}/anomalies")).await;
        let silent = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["detection_details"]["anomaly_type"] == "station_silent");
        if silent {
            break;
        }
        if Instant::now() >= deadline {
            let inference = app.get_ok(&format!("/v1/stations/{SILENT}/inference")).await;
            panic!("no station_silent after the data changed: {history}; inference: {inference}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
