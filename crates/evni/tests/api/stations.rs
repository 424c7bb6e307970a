//! /v1/stations and /v1/statistics: aggregates kept on write.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// A session at `station`/`connector`, anomalous (a register drop) or not.
fn charge(id: &str, station: &str, connector: &str, anomalous: bool) -> serde_json::Value {
    let mut values = steady_charge(60, 11.0, 1000.0);
    if anomalous {
        for (m, value) in values.iter_mut().enumerate().skip(30) {
            *value = kwh(m as i64, 1000.0 + 11.0 * m as f64 / 60.0 - 1.0);
        }
    }
    let mut body = session(id, station, values);
    body["connector_id"] = json!(connector);
    body
}

#[tokio::test]
async fn station_aggregates_follow_every_write() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &charge("a", "ST-1", "1", true)).await).await;
    json_ok(app.post("/v1/sessions", &charge("b", "ST-1", "1", false)).await).await;
    json_ok(app.post("/v1/sessions", &charge("c", "ST-1", "2", true)).await).await;
    json_ok(app.post("/v1/sessions", &charge("d", "ST-2", "1", false)).await).await;

    let list = app.get_ok("/v1/stations").await;
    assert_eq!(list["total"], 2);
    let st1 = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["external_station_id"] == "ST-1")
        .unwrap()
        .clone();
    assert_eq!(st1["total_sessions"], 3);
    assert_eq!(st1["anomalous_sessions"], 2);
    assert!(st1["max_anomaly_score"].as_f64().unwrap() >= 0.5);
    assert!(st1["last_anomaly_at"].is_string());
    let uuid = st1["charging_station_id"].as_str().unwrap().to_owned();
    assert_ne!(uuid, "ST-1");

    // By external id and by internal UUID.
    for id in ["ST-1", uuid.as_str()] {
        let detail = app.get_ok(&format!("/v1/stations/{id}")).await;
        assert_eq!(detail["charging_station_id"], uuid);
        assert_eq!(detail["external_station_id"], "ST-1");
        assert_eq!(detail["total_sessions"], 3);
        assert_eq!(detail["anomalous_sessions"], 2);
        assert_eq!(
            detail["connectors"],
            json!([{"connector_id": "1", "total_sessions": 2, "anomalous_sessions": 1},
                   {"connector_id": "2", "total_sessions": 1, "anomalous_sessions": 1}])
        );
    }
    let connectors = app.get_ok("/v1/stations/ST-1/connectors").await;
    assert_eq!(connectors["charging_station_id"], "ST-1");
    assert_eq!(
        connectors["connectors"][0]["anomaly_categories"],
        json!({"KWH_DECREASE": 1})
    );

    let stats = app.get_ok("/v1/statistics").await;
    assert_eq!(stats["total_sessions"], 4);
    assert_eq!(stats["anomalous_sessions"], 2);
    assert_eq!(stats["total_stations"], 2);
    assert_eq!(stats["stations_with_anomalies"], 1);
    assert_eq!(stats["anomaly_rate"], 0.5);

    // A replacement that clears session a flips every aggregate back.
    json_ok(
        app.put(
            "/v1/sessions/a",
            &json!({"meter_values": steady_charge(60, 11.0, 1000.0)}),
        )
        .await,
    )
    .await;
    let detail = app.get_ok("/v1/stations/ST-1").await;
    assert_eq!(detail["anomalous_sessions"], 1);
    let connectors = app.get_ok("/v1/stations/ST-1/connectors").await;
    assert_eq!(connectors["connectors"][0]["anomalous_sessions"], 0);
    assert_eq!(connectors["connectors"][0]["anomaly_categories"], json!({}));
    assert_eq!(app.get_ok("/v1/statistics").await["anomalous_sessions"], 1);

    // And an append that breaks session b flips it the other way.
    let drop = json!({"meter_values": [kwh(61, 1000.0)]});
    json_ok(app.patch("/v1/sessions/b", &drop).await).await;
    assert_eq!(app.get_ok("/v1/stations/ST-1").await["anomalous_sessions"], 2);
    assert_eq!(app.get_ok("/v1/statistics").await["anomalous_sessions"], 2);
}

#[tokio::test]
async fn max_anomaly_score_falls_when_the_worst_session_is_fixed() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &charge("a", "ST-1", "1", true)).await).await;
    let before = app.get_ok("/v1/stations").await["items"][0]["max_anomaly_score"]
        .as_f64()
        .unwrap();
    json_ok(
        app.put(
            "/v1/sessions/a",
            &json!({"meter_values": steady_charge(60, 11.0, 1000.0)}),
        )
        .await,
    )
    .await;
    let after = app.get_ok("/v1/stations").await["items"][0]["max_anomaly_score"]
        .as_f64()
        .unwrap();
    assert!(after < 0.5 && after < before, "{before} -> {after}");
}

#[tokio::test]
async fn station_metadata_can_be_set_before_sessions_arrive_and_feeds_the_analysis() {
    let app = TestApp::spawn().await;
    let patch = json!({"metadata": {"address": "Keizersgracht 100, Amsterdam", "operator": "FastNed",
                                    "connectors": {"1": {"rated_power_kw": 11.0}}}});
    let station = json_ok(app.patch("/v1/stations/ST-9", &patch).await).await;
    assert_eq!(station["external_station_id"], "ST-9");
    assert_eq!(station["metadata"]["operator"], "FastNed");
    assert_eq!(station["total_sessions"], 0);

    // 30 kW-equivalent steps: normal without a rating (< 400 kW), a jump
    // above 1.5 x the 11 kW rating.
    let values: Vec<_> = (0..=30).map(|m| kwh(m, 100.0 + 0.5 * m as f64)).collect();
    let body = json_ok(
        app.post("/v1/sessions", &session("fast", "ST-9", values.clone()))
            .await,
    )
    .await;
    let categories: Vec<_> = body["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["category"].clone())
        .collect();
    assert!(categories.contains(&json!("ENERGY_JUMP")), "{body}");
    let body = json_ok(
        app.post("/v1/sessions", &session("fast", "ST-UNRATED", values))
            .await,
    )
    .await;
    assert_eq!(body["is_anomaly"], false, "{body}");

    // Merge patch: null removes a key, other keys stay.
    let station = json_ok(
        app.patch("/v1/stations/ST-9", &json!({"metadata": {"operator": null}}))
            .await,
    )
    .await;
    assert!(station["metadata"].get("operator").is_none());
    assert_eq!(station["metadata"]["address"], "Keizersgracht 100, Amsterdam");

    let error = json_error(
        app.patch(
            "/v1/stations/ST-9",
            &json!({"metadata": {"connectors": {"1": {"rated_power_kw": -3}}}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        error["details"][0]["field"],
        "metadata.connectors.1.rated_power_kw"
    );
}

#[tokio::test]
async fn unknown_stations_are_404() {
    let app = TestApp::spawn().await;
    json_error(app.get("/v1/stations/nope").await, StatusCode::NOT_FOUND).await;
    json_error(
        app.get("/v1/stations/nope/connectors").await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn station_list_paginates() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        json_ok(
            app.post(
                "/v1/sessions",
                &charge(&format!("s{i}"), &format!("ST-{i}"), "1", false),
            )
            .await,
        )
        .await;
    }
    let page = app.get_ok("/v1/stations?page=2&page_size=2").await;
    assert_eq!(page["total"], 5);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    json_error(
        app.get("/v1/stations?page_size=101").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}
