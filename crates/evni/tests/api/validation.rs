//! Bad input: clear errors in one JSON shape, and nothing changes.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/v1/sessions"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{\"session_id\": ")
        .send()
        .await
        .unwrap();
    let error = json_error(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(error["code"], "malformed_json");
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/v1/sessions"))
        .bearer_auth(&app.token)
        .header("content-type", "text/plain")
        .body(reference_example().to_string())
        .send()
        .await
        .unwrap();
    json_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_so_are_too_many_meter_values() {
    let app = TestApp::spawn_with(|c| {
        c.max_body_bytes = 4096;
        c.max_meter_values = 10;
    })
    .await;
    let big = session("s1", "ST-1", steady_charge(200, 11.0, 0.0));
    let error = json_error(
        app.post("/v1/sessions", &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(error["message"].as_str().unwrap().contains("4096"), "{error}");
    let many = session("s1", "ST-1", steady_charge(20, 11.0, 0.0));
    let error = json_error(
        app.post("/v1/sessions", &many).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(error["message"].as_str().unwrap().contains("10"), "{error}");
    assert_eq!(app.get_ok("/v1/statistics").await["total_sessions"], 0);
}

#[tokio::test]
async fn the_default_limits_take_a_dense_twelve_hour_session() {
    let app = TestApp::spawn().await;
    // 12 h at 30 s sampling with energy, power, SoC and three phases of
    // current and voltage: about 13,000 meter values.
    let mut values = Vec::new();
    for i in 0..1440 {
        let ts = (chrono::DateTime::parse_from_rfc3339(&at(0)).unwrap() + chrono::Duration::seconds(30 * i))
            .to_rfc3339();
        let minute = i as f64 / 2.0;
        values.push(json!({"timestamp": ts, "value": 20000.0 + 11.0 * minute / 60.0, "unit": "kWh"}));
        values
            .push(json!({"timestamp": ts, "value": 11.0, "measurand": "Power.Active.Import", "unit": "kW"}));
        values.push(json!({"timestamp": ts, "value": 20.0 + minute / 20.0, "measurand": "SoC"}));
        for phase in ["L1", "L2", "L3"] {
            values
                .push(json!({"timestamp": ts, "value": 16.0, "measurand": "Current.Import", "phase": phase}));
            values.push(json!({"timestamp": ts, "value": 230.0, "measurand": "Voltage", "phase": format!("{phase}-N")}));
        }
    }
    let count = values.len();
    let body = json_ok(app.post("/v1/sessions", &session("dense", "ST-1", values)).await).await;
    assert_eq!(body["status"], "active");
    let detail = app.get_ok("/v1/sessions/dense").await;
    assert_eq!(detail["meter_values"].as_array().unwrap().len(), count);
}

#[tokio::test]
async fn validation_errors_name_the_field_path_and_what_is_accepted() {
    let app = TestApp::spawn().await;
    let body = json!({
        "session_id": "s1",
        "meter_values": [
            {"timestamp": "2026-02-27T10:00:00Z", "value": 1.0},
            {"timestamp": "2026-02-27T10:01:00Z", "value": 1.0},
            {"timestamp": "2026-02-27T10:02:00Z", "value": 1.0},
            {"timestamp": "2026-02-27T10:03:00Z", "value": 1.0, "unit": "kwhh"},
            {"timestamp": "2026-02-27T10:04:00", "value": "abc", "measurand": "Energy.Bogus", "phase": "L4"},
            {"timestamp": "2999-01-01T00:00:00Z", "value": true, "location": "Roof"},
        ]
    });
    let error = json_error(
        app.post("/v1/sessions", &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["code"], "validation_failed");
    let fields: Vec<&str> = error["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for expected in [
        "charging_station_id",
        "meter_values[3].unit",
        "meter_values[4].timestamp",
        "meter_values[4].value",
        "meter_values[4].measurand",
        "meter_values[4].phase",
        "meter_values[5].timestamp",
        "meter_values[5].value",
        "meter_values[5].location",
    ] {
        assert!(fields.contains(&expected), "{expected} not in {fields:?}");
    }
    let unit = error["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["field"] == "meter_values[3].unit")
        .unwrap();
    assert!(unit["accepted"].as_array().unwrap().contains(&json!("kWh")));
    // Nothing was written.
    json_error(app.get("/v1/sessions/s1").await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get_ok("/v1/statistics").await["total_sessions"], 0);
}

#[tokio::test]
async fn a_rejected_append_changes_nothing() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &reference_example()).await).await;
    let before = app.get_ok("/v1/sessions/sess-abc-001").await;
    let bad = json!({"meter_values": [kwh(45, 16.5), {"timestamp": "2026-02-27T11:00:00Z", "value": "NaN"}]});
    let error = json_error(
        app.patch("/v1/sessions/sess-abc-001", &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "meter_values[1].value");
    assert_eq!(app.get_ok("/v1/sessions/sess-abc-001").await, before);
}

#[tokio::test]
async fn wrong_shapes_are_422_with_their_path() {
    let app = TestApp::spawn().await;
    let error = json_error(
        app.post(
            "/v1/sessions",
            &json!({"session_id": "s", "charging_station_id": "c", "meter_values": {"a": 1}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "meter_values");
    let error = json_error(
        app.post(
            "/v1/sessions",
            &json!({"session_id": "s", "charging_station_id": "c", "metadata": [1]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "metadata");
    let error = json_error(
        app.put("/v1/sessions/s", &json!({"meter_values": []})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "meter_values");
    let error = json_error(
        app.get("/v1/sessions?page_size=500&is_anomaly=maybe").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn integer_connector_ids_from_ocpp_are_accepted() {
    let app = TestApp::spawn().await;
    let mut body = reference_example();
    body["connector_id"] = json!(2);
    json_ok(app.post("/v1/sessions", &body).await).await;
    let connectors = app.get_ok("/v1/stations/CP-NL-AMS-0042/connectors").await;
    assert_eq!(connectors["connectors"][0]["connector_id"], "2");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = TestApp::spawn().await;
    json_error(app.get("/v2/nothing").await, StatusCode::NOT_FOUND).await;
    let response = app
        .client
        .delete(app.url("/v1/sessions"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    json_error(response, StatusCode::METHOD_NOT_ALLOWED).await;
}

/// The hardening report's cases: each would have been misread, not refused.
#[tokio::test]
async fn unknown_fields_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let mut ocpp201 = kwh(0, 10.0);
    ocpp201["unitOfMeasure"] = json!({"unit": "kWh", "multiplier": 3});
    let mut units = kwh(0, 10.0);
    units["units"] = json!("kWh");
    let mut misspelt = mv(0, "SoC", "Percent", 40.0);
    misspelt["measurnd"] = misspelt.as_object_mut().unwrap().remove("measurand").unwrap();
    for (value, field) in [
        (ocpp201, "unitOfMeasure"),
        (units, "units"),
        (misspelt, "measurnd"),
    ] {
        let body = session("s1", "ST-1", vec![kwh(1, 11.0), value, kwh(2, 12.0)]);
        let error = json_error(
            app.post("/v1/sessions", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let detail = &error["details"][0];
        assert_eq!(detail["field"], format!("meter_values[1].{field}"), "{error}");
        assert!(
            detail["accepted"].as_array().unwrap().contains(&json!("unit")),
            "{error}"
        );
    }
    let mut top = session("s1", "ST-1", vec![]);
    top["station"] = json!("ST-2");
    let error = json_error(
        app.post("/v1/sessions", &top).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "station", "{error}");
    assert_eq!(app.get_ok("/v1/statistics").await["total_sessions"], 0);

    json_ok(
        app.post("/v1/sessions", &session("s1", "ST-1", vec![kwh(0, 1.0)]))
            .await,
    )
    .await;
    let error = json_error(
        app.patch("/v1/sessions/s1", &json!({"meter_values": [], "meta": {}}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "meta", "{error}");
    let error = json_error(
        app.post(
            "/v1/sessions/batch",
            &json!({"sessions": [session("b1", "ST-1", vec![])], "mode": "x"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "mode", "{error}");
    let error = json_error(
        app.post(
            "/v1/models/fine-tune",
            &json!({"data_source": {"type": "sessions"}, "training_config": {"epochz": 3}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "training_config.epochz", "{error}");
    let error = json_error(
        app.post(
            "/v1/sessions/s1/feedback",
            &json!({"label": "normal", "lable": "x"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "lable", "{error}");
    // Free-form metadata stays open.
    json_ok(
        app.patch(
            "/v1/sessions/s1",
            &json!({"meter_values": [], "metadata": {"anything": {"goes": 1}}}),
        )
        .await,
    )
    .await;
}

#[tokio::test]
async fn a_json_array_is_not_an_object_body() {
    let app = TestApp::spawn().await;
    let error = json_error(
        app.patch("/v1/stations/ST-1", &json!([{"rated_power_kw": 11}]))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "body", "{error}");
    let error = json_error(
        app.post("/v1/sessions", &json!(["s1", "ST-1"])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "body", "{error}");
    assert_eq!(app.get_ok("/v1/statistics").await["total_sessions"], 0);
}

#[tokio::test]
async fn a_session_id_that_names_a_route_is_refused() {
    let app = TestApp::spawn().await;
    let error = json_error(
        app.post("/v1/sessions", &session("batch", "ST-1", vec![kwh(0, 1.0)]))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "session_id", "{error}");
    let error = json_error(
        app.post(
            "/v1/sessions/batch",
            &json!({"sessions": [session("batch", "ST-1", vec![])]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "sessions[0].session_id", "{error}");
    assert_eq!(app.get_ok("/v1/statistics").await["total_sessions"], 0);
}

#[tokio::test]
async fn readings_no_meter_produces_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &reference_example()).await).await;
    let before = app.get_ok("/v1/sessions/sess-abc-001").await;
    let reading = |ts: &str, value: Value| json!({"timestamp": ts, "value": value, "unit": "kWh"});
    for (bad, field, problem) in [
        (
            reading("0001-01-01T00:00:00Z", json!(1.0)),
            "timestamp",
            "before 2000-01-01",
        ),
        (
            reading("1900-01-01T00:00:00Z", json!(1.0)),
            "timestamp",
            "before 2000-01-01",
        ),
        (
            reading("2026-02-27T10:59:60Z", json!(17.0)),
            "timestamp",
            "leap second",
        ),
        (
            reading("2026-02-27T11:00:00Z", json!(-5)),
            "value",
            "from 0 to 1000000000 kWh",
        ),
        (
            reading("2026-02-27T11:00:00Z", json!(1e20)),
            "value",
            "outside what a meter produces",
        ),
        (
            reading("2026-02-27T11:00:00Z", json!(1e308)),
            "value",
            "outside what a meter produces",
        ),
        (
            reading("2026-02-27T11:00:00Z", json!(-1e308)),
            "value",
            "outside what a meter produces",
        ),
    ] {
        let error = json_error(
            app.patch("/v1/sessions/sess-abc-001", &json!({"meter_values": [bad]}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let detail = &error["details"][0];
        assert_eq!(detail["field"], format!("meter_values[0].{field}"), "{error}");
        assert!(detail["problem"].as_str().unwrap().contains(problem), "{error}");
    }
    assert_eq!(app.get_ok("/v1/sessions/sess-abc-001").await, before);
    // A new session with an implausible reading is not created either.
    let mut fresh = reference_example();
    fresh["session_id"] = json!("sess-implausible");
    fresh["meter_values"][1]["value"] = json!(1e20);
    json_error(
        app.post("/v1/sessions", &fresh).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    json_error(
        app.get("/v1/sessions/sess-implausible").await,
        StatusCode::NOT_FOUND,
    )
    .await;
}
