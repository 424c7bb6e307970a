//! Door 1 of native OCPP: POST /v1/ocpp/{charging_station_id} takes OCPP-J
//! frames as they travel and answers with the sessions' verdicts.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

fn call(id: &str, action: &str, payload: Value) -> Value {
    json!([2, id, action, payload])
}

/// 1.6 MeterValues of transaction `tx`, one energy register reading in Wh
/// (as a string, as 1.6 sends it) at `minute`.
fn meter_values_16(tx: i64, minute: i64, wh: f64) -> Value {
    call(
        &format!("mv-{minute}"),
        "MeterValues",
        json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": at(minute), "sampledValue": [
            {"value": format!("{wh}"), "context": "Sample.Periodic", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"}
        ]}]}),
    )
}

/// A whole 1.6 transaction at 11 kW for `minutes`, register from 1,000 Wh.
fn transaction_16(tx: i64, minutes: i64) -> Vec<Value> {
    transaction_16_from(tx, 0, minutes)
}

/// [`transaction_16`] starting at minute `start` of the test day.
fn transaction_16_from(tx: i64, start: i64, minutes: i64) -> Vec<Value> {
    let wh = |m: i64| 1000.0 + 11_000.0 * m as f64 / 60.0;
    let at = |m: i64| at(start + m);
    let meter_values_16 = |tx: i64, m: i64, wh: f64| meter_values_16(tx, start + m, wh);
    let mut frames = vec![
        call(
            "b",
            "BootNotification",
            json!({"chargePointVendor": "Acme", "chargePointModel": "AC-22", "firmwareVersion": "1.2.3"}),
        ),
        json!([3, "b", {"status": "Accepted", "currentTime": at(0), "interval": 300}]),
        call(
            "s",
            "StatusNotification",
            json!({"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": at(0)}),
        ),
        call(
            "start",
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "TAG-1", "meterStart": 1000, "timestamp": at(0)}),
        ),
        json!([3, "start", {"transactionId": tx, "idTagInfo": {"status": "Accepted"}}]),
    ];
    for m in 1..minutes {
        frames.push(meter_values_16(tx, m, wh(m)));
    }
    frames.push(call("stop", "StopTransaction", json!({"transactionId": tx, "meterStop": wh(minutes) as i64, "timestamp": at(minutes), "reason": "EVDisconnected"})));
    frames.push(call("hb", "Heartbeat", json!({})));
    frames
}

async fn post_frames(app: &TestApp, path: &str, frames: &Value) -> reqwest::Response {
    app.post(path, frames).await
}

#[tokio::test]
async fn a_16_transaction_becomes_one_session_with_every_reading() {
    let app = TestApp::spawn().await;
    let body = json_ok(post_frames(&app, "/v1/ocpp/CP-1", &json!(transaction_16(42, 30))).await).await;
    assert_eq!(body["version"], "1.6");
    assert_eq!(body["frames"], 36);
    assert_eq!(body["ignored"], json!({"CALLRESULT": 1, "Heartbeat": 1}));
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{body}");
    assert_eq!(sessions[0]["session_id"], "CP-1:42");
    assert_eq!(sessions[0]["status"], "active");
    assert_eq!(sessions[0]["is_anomaly"], false, "{body}");

    let detail = app.get_ok("/v1/sessions/CP-1:42").await;
    let values = detail["meter_values"].as_array().unwrap();
    // meterStart, 29 x (energy + power), meterStop.
    assert_eq!(values.len(), 1 + 29 * 2 + 1, "{detail}");
    assert_eq!(values[0]["value"], 1000.0);
    assert_eq!(values[0]["unit"], "Wh");
    assert_eq!(values[0]["context"], "Transaction.Begin");
    assert_eq!(values.last().unwrap()["context"], "Transaction.End");
    // The OCPP facts of the session (extensions of the session detail).
    assert_eq!(detail["charging_station_id"], "CP-1");
    assert_eq!(detail["connector_id"], "1");
    let ocpp = &detail["metadata"]["ocpp"];
    assert_eq!(ocpp["transaction_id"], "42", "{detail}");
    assert_eq!(ocpp["state"], "ended");
    assert_eq!(ocpp["stop_reason"], "EVDisconnected");
    assert_eq!(ocpp["started_at"], at(0));
    assert_eq!(ocpp["ended_at"], at(30));
    assert_eq!(ocpp["version"], "1.6");
    assert!(ocpp.get("incomplete").is_none(), "door 1 loses nothing: {detail}");

    let station = app.get_ok("/v1/stations/CP-1").await;
    assert_eq!(station["metadata"]["ocpp"]["boot"]["vendor"], "Acme", "{station}");
    assert_eq!(
        station["metadata"]["ocpp"]["connectors"]["1"]["status"],
        "Charging"
    );
    assert_eq!(station["connectors"][0]["connector_id"], "1");
}

#[tokio::test]
async fn a_start_answered_in_a_later_request_is_paired_with_its_call() {
    let app = TestApp::spawn().await;
    let frames = transaction_16(7, 10);
    let (first, rest) = frames.split_at(4); // up to the StartTransaction CALL
    let body = json_ok(post_frames(&app, "/v1/ocpp/CP-2", &json!(first)).await).await;
    assert_eq!(body["sessions"], json!([]));
    let body = json_ok(post_frames(&app, "/v1/ocpp/CP-2", &json!(rest)).await).await;
    assert_eq!(body["sessions"][0]["session_id"], "CP-2:7", "{body}");
    let detail = app.get_ok("/v1/sessions/CP-2:7").await;
    assert_eq!(detail["meter_values"][0]["value"], 1000.0);
}

#[tokio::test]
async fn a_retransmitted_frame_replaces_its_readings() {
    let app = TestApp::spawn().await;
    json_ok(post_frames(&app, "/v1/ocpp/CP-3", &json!(transaction_16(1, 10)[..9])).await).await;
    let before = app.get_ok("/v1/sessions/CP-3:1").await["meter_values"]
        .as_array()
        .unwrap()
        .len();
    // The same frame again (a single frame, not an array), with a corrected value.
    let again = meter_values_16(1, 3, 1555.0);
    json_ok(post_frames(&app, "/v1/ocpp/CP-3", &again).await).await;
    json_ok(post_frames(&app, "/v1/ocpp/CP-3", &again).await).await;
    let detail = app.get_ok("/v1/sessions/CP-3:1").await;
    let values = detail["meter_values"].as_array().unwrap();
    assert_eq!(values.len(), before, "no double count");
    let at3: Vec<&Value> = values
        .iter()
        .filter(|v| v["timestamp"] == at(3) && v["measurand"] == "Energy.Active.Import.Register")
        .collect();
    assert_eq!(at3.len(), 1);
    assert_eq!(at3[0]["value"], 1555.0);
}

#[tokio::test]
async fn a_register_running_backwards_is_a_kwh_decrease() {
    let app = TestApp::spawn().await;
    let mut frames = transaction_16(9, 40);
    // Minute 20's reading falls 2 kWh below minute 19's.
    frames[4 + 20] = meter_values_16(9, 20, 1000.0 + 11_000.0 * 19.0 / 60.0 - 2000.0);
    let body = json_ok(post_frames(&app, "/v1/ocpp/CP-4", &json!(frames)).await).await;
    let session = &body["sessions"][0];
    assert_eq!(session["is_anomaly"], true, "{body}");
    let categories: Vec<&Value> = session["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["category"])
        .collect();
    assert!(categories.contains(&&json!("KWH_DECREASE")), "{body}");
}

/// OCPP 2.0.1 TransactionEvent with `unitOfMeasure {unit: Wh, multiplier: 3}`.
fn transaction_event(kind: &str, seq: i64, minute: i64, kwh: f64) -> Value {
    call(
        &format!("te-{seq}"),
        "TransactionEvent",
        json!({"eventType": kind, "timestamp": at(minute), "triggerReason": "MeterValuePeriodic", "seqNo": seq,
        "transactionInfo": {"transactionId": "a1b2"}, "evse": {"id": 2, "connectorId": 1},
        "meterValue": [{"timestamp": at(minute), "sampledValue": [
            {"value": kwh, "context": "Sample.Periodic", "unitOfMeasure": {"unit": "Wh", "multiplier": 3}}
        ]}]}),
    )
}

#[tokio::test]
async fn a_201_transaction_applies_the_multiplier() {
    let app = TestApp::spawn().await;
    let mut frames = vec![call(
        "b",
        "BootNotification",
        json!({"reason": "PowerUp", "chargingStation": {"model": "DC-50", "vendorName": "Acme"}}),
    )];
    frames.push(transaction_event("Started", 0, 0, 10.0));
    for m in 1..30 {
        frames.push(transaction_event("Updated", m, m, 10.0 + 22.0 * m as f64 / 60.0));
    }
    frames.push(transaction_event("Ended", 30, 30, 21.0));
    let body = json_ok(post_frames(&app, "/v1/ocpp/CP-5?version=2.0.1", &json!(frames)).await).await;
    assert_eq!(body["sessions"][0]["session_id"], "CP-5:a1b2", "{body}");
    assert_eq!(
        body["sessions"][0]["is_anomaly"], false,
        "22 kW read as 22 kW: {body}"
    );
    let detail = app.get_ok("/v1/sessions/CP-5:a1b2").await;
    let values = detail["meter_values"].as_array().unwrap();
    assert_eq!(values.len(), 31);
    assert_eq!(values[0]["value"], 10_000.0, "10 x 10^3 Wh");
    assert_eq!(values[0]["unit"], "Wh");
    assert_eq!(values[30]["value"], 21_000.0);
    let station = app.get_ok("/v1/stations/CP-5").await;
    assert_eq!(station["metadata"]["ocpp"]["boot"]["model"], "DC-50");
    assert_eq!(station["connectors"][0]["connector_id"], "1");
}

#[tokio::test]
async fn a_malformed_frame_is_422_naming_index_and_field_and_keeps_nothing() {
    let app = TestApp::spawn().await;
    let mut frames = transaction_16(5, 6);
    frames[6] = call(
        "bad",
        "MeterValues",
        json!({"connectorId": 1, "transactionId": 5, "meterValue": [{"timestamp": at(2), "sampledValue": [{"value": "12", "unit": "Wh", "unitOfMeasure": {"unit": "kWh"}}]}]}),
    );
    let error = json_error(
        post_frames(&app, "/v1/ocpp/CP-6", &json!(frames)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        error["details"][0]["field"], "frames[6][3].meterValue[0].sampledValue[0].unitOfMeasure",
        "{error}"
    );

    frames[6] = json!([2, "x", "MeterValues"]);
    let error = json_error(
        post_frames(&app, "/v1/ocpp/CP-6", &json!(frames)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "frames[6]", "{error}");

    frames[6] = meter_values_16(5, 2, f64::from(u32::MAX));
    frames[7] = call(
        "m",
        "MeterValues",
        json!({"connectorId": 1, "transactionId": 5, "meterValue": [{"timestamp": "yesterday", "sampledValue": [{"value": "1"}]}]}),
    );
    let error = json_error(
        post_frames(&app, "/v1/ocpp/CP-6", &json!(frames)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        error["details"][0]["field"], "frames[7][3].meterValue[0].sampledValue[0].timestamp",
        "{error}"
    );

    // The frames before the bad one were not kept either, nor the station's boot.
    assert_eq!(app.get_ok("/v1/statistics").await["total_sessions"], 0);
    assert_eq!(
        app.get("/v1/sessions/CP-6:5").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/v1/stations/CP-6").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_unknown_version_or_a_body_that_is_no_frame_is_422() {
    let app = TestApp::spawn().await;
    let frame = call("h", "Heartbeat", json!({}));
    let error = json_error(
        post_frames(&app, "/v1/ocpp/CP-7?version=3.0", &frame).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "version");
    assert!(error["details"][0]["accepted"]
        .as_array()
        .unwrap()
        .contains(&json!("2.0.1")));
    let error = json_error(
        post_frames(&app, "/v1/ocpp/CP-7", &json!({"frames": []})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "frames");
    let body = json_ok(post_frames(&app, "/v1/ocpp/CP-7?version=2.1", &frame).await).await;
    assert_eq!(body["ignored"], json!({"Heartbeat": 1}));
    assert_eq!(body["stored"], 0);
}

#[tokio::test]
async fn ocpp_frames_need_the_write_scope() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/v1/ocpp/CP-8"))
        .json(&call("h", "Heartbeat", json!({})))
        .send()
        .await
        .unwrap();
    json_error(response, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn callerrors_and_other_actions_are_counted_not_stored() {
    let app = TestApp::spawn().await;
    let frames = json!([
        call("a", "Authorize", json!({"idTag": "TAG-1"})),
        json!([3, "a", {"idTagInfo": {"status": "Accepted"}}]),
        call("d", "DataTransfer", json!({"vendorId": "acme", "data": "x"})),
        json!([4, "d", "NotImplemented", "no DataTransfer here", {}]),
        call("f", "FirmwareStatusNotification", json!({"status": "Idle"})),
        // A CALLERROR answering a StartTransaction: no session.
        call(
            "start",
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "TAG-1", "meterStart": 0, "timestamp": at(0)})
        ),
        json!([4, "start", "InternalError", "", {}]),
        json!([3, "start", {"transactionId": 3, "idTagInfo": {"status": "Accepted"}}]),
    ]);
    let body = json_ok(post_frames(&app, "/v1/ocpp/CP-10", &frames).await).await;
    assert_eq!(body["frames"], 8);
    assert_eq!(body["stored"], 0, "{body}");
    assert_eq!(
        body["ignored"],
        json!({"Authorize": 1, "CALLERROR": 2, "CALLRESULT": 2, "DataTransfer": 1, "FirmwareStatusNotification": 1})
    );
    assert_eq!(body["sessions"], json!([]));
    assert_eq!(app.get_ok("/v1/statistics").await["total_sessions"], 0);
}

#[tokio::test]
async fn a_transaction_id_reused_after_a_reboot_starts_a_new_session() {
    let app = TestApp::spawn().await;
    json_ok(post_frames(&app, "/v1/ocpp/CP-11", &json!(transaction_16(42, 10))).await).await;
    // The charger rebooted and counts from 42 again, an hour later.
    let body =
        json_ok(post_frames(&app, "/v1/ocpp/CP-11", &json!(transaction_16_from(42, 60, 10))).await).await;
    let start = chrono::DateTime::parse_from_rfc3339(&at(60)).unwrap().timestamp();
    let second = format!("CP-11:42:{start}");
    assert_eq!(body["sessions"][0]["session_id"], second.as_str(), "{body}");
    let first = app.get_ok("/v1/sessions/CP-11:42").await;
    let later = app.get_ok(&format!("/v1/sessions/{second}")).await;
    assert_eq!(first["meter_values"][0]["timestamp"], at(0));
    assert_eq!(later["meter_values"][0]["timestamp"], at(60));
    assert_eq!(first["meter_values"].as_array().unwrap().len(), 1 + 9 * 2 + 1);
    assert_eq!(later["meter_values"].as_array().unwrap().len(), 1 + 9 * 2 + 1);
    assert_eq!(later["metadata"]["ocpp"]["started_at"], at(60));

    // Frames of the second transaction sent again land in the second session.
    json_ok(post_frames(&app, "/v1/ocpp/CP-11", &meter_values_16(42, 65, 2500.0)).await).await;
    let later = app.get_ok(&format!("/v1/sessions/{second}")).await;
    assert_eq!(later["meter_values"].as_array().unwrap().len(), 1 + 9 * 2 + 1);
    assert_eq!(
        app.get_ok("/v1/sessions/CP-11:42").await["meter_values"],
        first["meter_values"]
    );
}

#[tokio::test]
async fn a_21_transaction_with_meter_values_between_events() {
    let app = TestApp::spawn().await;
    let mut frames = vec![transaction_event("Started", 0, 0, 10.0)];
    for m in 1..20 {
        frames.push(call(
            &format!("mv-{m}"),
            "MeterValues",
            json!({"evseId": 2, "meterValue": [{"timestamp": at(m), "sampledValue": [
                {"value": 10.0 + 22.0 * m as f64 / 60.0, "unitOfMeasure": {"unit": "Wh", "multiplier": 3}},
                {"value": 22, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "kW"}, "location": "Outlet"},
                {"value": 1, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "kWh"}, "location": "Upstream"}
            ]}]}),
        ));
    }
    frames.push(transaction_event("Ended", 20, 20, 10.0 + 22.0 / 3.0));
    frames.push(call(
        "st",
        "StatusNotification",
        json!({"timestamp": at(20), "connectorStatus": "Available", "evseId": 2, "connectorId": 1}),
    ));
    let body = json_ok(post_frames(&app, "/v1/ocpp/CP-12?version=2.1", &json!(frames)).await).await;
    assert_eq!(body["version"], "2.1");
    assert_eq!(body["sessions"][0]["session_id"], "CP-12:a1b2", "{body}");
    assert_eq!(body["sessions"][0]["is_anomaly"], false, "{body}");
    let detail = app.get_ok("/v1/sessions/CP-12:a1b2").await;
    let values = detail["meter_values"].as_array().unwrap();
    // Start and end, 19 x (energy + power); the Upstream readings skipped.
    assert_eq!(values.len(), 2 + 19 * 2, "{detail}");
    let energy_at_1 = values
        .iter()
        .find(|v| v["timestamp"] == at(1) && v["measurand"] == "Energy.Active.Import.Register")
        .unwrap();
    assert!((energy_at_1["value"].as_f64().unwrap() - (10_000.0 + 22_000.0 / 60.0)).abs() < 1e-6);
    assert_eq!(detail["connector_id"], "1");
    assert_eq!(detail["evse_id"], "2");
    assert_eq!(detail["metadata"]["ocpp"]["version"], "2.1");
    assert_eq!(detail["metadata"]["ocpp"]["state"], "ended");
    let station = app.get_ok("/v1/stations/CP-12").await;
    assert_eq!(
        station["metadata"]["ocpp"]["connectors"]["2.1"]["status"], "Available",
        "{station}"
    );
}
