//! /v1/sessions: create, upsert, replace, append, detail, list.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn the_reference_example_is_accepted_and_analysed() {
    let app = TestApp::spawn().await;
    let body = json_ok(app.post("/v1/sessions", &reference_example()).await).await;
    assert_eq!(body["session_id"], "sess-abc-001");
    assert_eq!(body["status"], "active");
    assert_eq!(body["is_anomaly"], false);
    assert!(body["anomaly_score"].as_f64().unwrap() < 0.5);
    assert!(body["anomalies"].as_array().unwrap().is_empty());
    assert!(body["analyzed_at"].is_string());
    for field in ["anomaly_confidence", "is_incident", "is_recurring"] {
        assert!(body.get(field).is_some(), "{field} missing from {body}");
    }
}

#[tokio::test]
async fn a_session_stays_pending_until_it_has_three_readings() {
    let app = TestApp::spawn().await;
    let body = json_ok(app.post("/v1/sessions", &session("s1", "ST-1", vec![])).await).await;
    assert_eq!(body["status"], "pending");
    assert_eq!(body["is_anomaly"], Value::Null);
    let body = json_ok(
        app.patch(
            "/v1/sessions/s1",
            &json!({"meter_values": [kwh(0, 100.0), kwh(1, 100.2)]}),
        )
        .await,
    )
    .await;
    assert_eq!(body["status"], "pending");
    let body = json_ok(
        app.patch("/v1/sessions/s1", &json!({"meter_values": [kwh(2, 100.4)]}))
            .await,
    )
    .await;
    assert_eq!(body["status"], "active");
    assert_eq!(body["is_anomaly"], false);
}

#[tokio::test]
async fn patch_appends_and_reanalyses_with_hand_computed_ranges() {
    let app = TestApp::spawn().await;
    // 11 kW for an hour, one reading a minute, register from 48213.7 kWh.
    let mut values = steady_charge(60, 11.0, 48213.7);
    json_ok(
        app.post("/v1/sessions", &session("s1", "ST-1", values.clone()))
            .await,
    )
    .await;
    // At minute 61 the register falls by 2 kWh: bucket 4 (60..75 min).
    values.push(kwh(61, 48213.7 + 11.0 - 2.0));
    let body = json_ok(
        app.patch(
            "/v1/sessions/s1",
            &json!({"meter_values": [values.last().unwrap()]}),
        )
        .await,
    )
    .await;
    assert_eq!(body["is_anomaly"], true, "{body}");
    let anomaly = &body["anomalies"][0];
    assert_eq!(anomaly["category"], "KWH_DECREASE");
    assert_eq!(anomaly["bucket_range"], json!({"start_unit": 4, "end_unit": 4}));
    assert_eq!(anomaly["time_range"]["start_timestamp"], at(60));
    assert_eq!(anomaly["time_range"]["end_timestamp"], at(61));
    assert!(anomaly["score"].as_f64().unwrap() > 0.5);
    // PUT/PATCH answer the reference's shape: no incident/recurring flags.
    assert!(body.get("is_incident").is_none());
}

#[tokio::test]
async fn data_gap_range_spans_the_missing_buckets() {
    let app = TestApp::spawn().await;
    // Readings every minute for 30 min, nothing until minute 90, then 30 more.
    let mut values: Vec<Value> = (0..=30).map(|m| kwh(m, 500.0 + m as f64 * 0.1)).collect();
    values.extend((90..=120).map(|m| kwh(m, 500.0 + m as f64 * 0.1)));
    let body = json_ok(app.post("/v1/sessions", &session("gap", "ST-1", values)).await).await;
    let gap = body["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["category"] == "DATA_GAP")
        .cloned();
    let gap = gap.unwrap_or_else(|| panic!("no DATA_GAP in {body}"));
    // The gap runs from minute 30 (bucket 2) to minute 90 (bucket 6).
    assert_eq!(gap["bucket_range"], json!({"start_unit": 2, "end_unit": 6}));
    assert_eq!(gap["time_range"]["start_timestamp"], at(30));
    assert_eq!(gap["time_range"]["end_timestamp"], at(90));
}

#[tokio::test]
async fn sessions_longer_than_six_hours_are_analysed_on_their_last_six_hours() {
    let app = TestApp::spawn().await;
    // 8 h at 7 kW, a register drop at minute 30 (outside the last 6 h) and
    // one at minute 200 (inside: window t0 is minute 120, so bucket 5).
    let mut values = steady_charge(480, 7.0, 1000.0);
    values[30] = kwh(30, 1000.0);
    values[200] = kwh(200, 1000.0 + 7.0 * 200.0 / 60.0 - 1.5);
    let body = json_ok(app.post("/v1/sessions", &session("long", "ST-1", values)).await).await;
    let decreases: Vec<&Value> = body["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["category"] == "KWH_DECREASE")
        .collect();
    assert_eq!(decreases.len(), 1, "{body}");
    assert_eq!(decreases[0]["bucket_range"]["start_unit"], 5);
    // Every reading is kept and returned.
    let detail = app.get_ok("/v1/sessions/long").await;
    assert_eq!(detail["meter_values"].as_array().unwrap().len(), 481);
}

#[tokio::test]
async fn readings_out_of_order_and_duplicated_are_merged_by_identity() {
    let app = TestApp::spawn().await;
    let values = vec![
        kwh(30, 10.0),
        kwh(0, 0.0),
        kwh(15, 5.0),
        kwh(15, 5.0),
        kwh(0, 0.0),
    ];
    json_ok(app.post("/v1/sessions", &session("s1", "ST-1", values)).await).await;
    // A retry with one corrected value: last write wins.
    json_ok(
        app.patch(
            "/v1/sessions/s1",
            &json!({"meter_values": [kwh(15, 5.2), kwh(45, 15.0)]}),
        )
        .await,
    )
    .await;
    let detail = app.get_ok("/v1/sessions/s1").await;
    let values: Vec<(String, f64)> = detail["meter_values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["timestamp"].as_str().unwrap().to_owned(),
                m["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        values,
        vec![(at(0), 0.0), (at(15), 5.2), (at(30), 10.0), (at(45), 15.0)]
    );
}

#[tokio::test]
async fn the_same_patch_twice_gives_the_same_state_and_statistics() {
    let app = TestApp::spawn().await;
    json_ok(
        app.post(
            "/v1/sessions",
            &session("s1", "ST-1", steady_charge(30, 11.0, 100.0)),
        )
        .await,
    )
    .await;
    let patch = json!({"meter_values": [kwh(31, 100.0 + 11.0 * 31.0 / 60.0)]});
    let first = json_ok(app.patch("/v1/sessions/s1", &patch).await).await;
    let detail_first = app.get_ok("/v1/sessions/s1").await;
    let stats_first = app.get_ok("/v1/statistics").await;
    let second = json_ok(app.patch("/v1/sessions/s1", &patch).await).await;
    assert_eq!(first["anomalies"], second["anomalies"]);
    assert_eq!(first["anomaly_score"], second["anomaly_score"]);
    let detail_second = app.get_ok("/v1/sessions/s1").await;
    assert_eq!(detail_first["meter_values"], detail_second["meter_values"]);
    assert_eq!(stats_first, app.get_ok("/v1/statistics").await);
    assert_eq!(stats_first["total_sessions"], 1);
}

#[tokio::test]
async fn units_enums_numeric_strings_and_offsets_are_normalised() {
    let app = TestApp::spawn().await;
    // The same 11 kW charge, in Wh with lowercase enums, W power as strings
    // and timestamps in +02:00.
    let values: Vec<Value> = (0..=60)
        .flat_map(|m| {
            let local = chrono::DateTime::parse_from_rfc3339(&at(m))
                .unwrap()
                .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
                .to_rfc3339();
            vec![
                json!({"timestamp": local, "measurand": "energy.active.import.register", "unit": "wh",
                       "value": format!("{}", 48_213_700.0 + 11_000.0 * m as f64 / 60.0)}),
                json!({"timestamp": local, "measurand": "POWER.ACTIVE.IMPORT", "unit": "w", "value": "11000"}),
            ]
        })
        .collect();
    let body = json_ok(app.post("/v1/sessions", &session("s1", "ST-1", values)).await).await;
    assert_eq!(body["is_anomaly"], false, "{body}");
    let detail = app.get_ok("/v1/sessions/s1").await;
    let first = &detail["meter_values"][0];
    assert_eq!(first["timestamp"], at(0));
    assert_eq!(first["measurand"], "Energy.Active.Import.Register");
    assert_eq!(first["unit"], "Wh");
    assert_eq!(first["value"], 48_213_700.0);
    assert_eq!(detail["meter_values"][1]["unit"], "W");
}

#[tokio::test]
async fn the_batch_examples_unit_without_measurand_is_an_energy_register() {
    let app = TestApp::spawn().await;
    let values = json!([
        { "timestamp": "2026-02-27T10:00:00Z", "unit": "kwh", "value": 0.0 },
        { "timestamp": "2026-02-27T10:15:00Z", "unit": "kwh", "value": 5.5 },
        { "timestamp": "2026-02-27T10:30:00Z", "unit": "kwh", "value": 11.1 }
    ]);
    let body = json!({"session_id": "sess-001", "charging_station_id": "CP-001", "meter_values": values});
    json_ok(app.post("/v1/sessions", &body).await).await;
    let detail = app.get_ok("/v1/sessions/sess-001").await;
    assert_eq!(
        detail["meter_values"][0]["measurand"],
        "Energy.Active.Import.Register"
    );
    assert_eq!(detail["meter_values"][0]["unit"], "kWh");
}

#[tokio::test]
async fn put_replaces_every_reading_and_can_clear_an_anomaly() {
    let app = TestApp::spawn().await;
    let mut values = steady_charge(60, 11.0, 200.0);
    values[40] = kwh(40, 150.0);
    let body = json_ok(app.post("/v1/sessions", &session("s1", "ST-1", values)).await).await;
    assert_eq!(body["is_anomaly"], true);
    let stats = app.get_ok("/v1/statistics").await;
    assert_eq!(stats["anomalous_sessions"], 1);

    let body = json_ok(
        app.put(
            "/v1/sessions/s1",
            &json!({"meter_values": steady_charge(60, 11.0, 200.0)}),
        )
        .await,
    )
    .await;
    assert_eq!(body["is_anomaly"], false);
    assert_eq!(
        app.get_ok("/v1/sessions/s1").await["meter_values"]
            .as_array()
            .unwrap()
            .len(),
        61
    );
    let stats = app.get_ok("/v1/statistics").await;
    assert_eq!(stats["anomalous_sessions"], 0);
    assert_eq!(stats["total_sessions"], 1);
    let connectors = app.get_ok("/v1/stations/ST-1/connectors").await;
    assert_eq!(connectors["connectors"][0]["anomaly_categories"], json!({}));
}

#[tokio::test]
async fn post_on_an_existing_session_is_an_upsert() {
    let app = TestApp::spawn().await;
    json_ok(
        app.post(
            "/v1/sessions",
            &session("s1", "ST-1", vec![kwh(0, 1.0), kwh(1, 1.1)]),
        )
        .await,
    )
    .await;
    let mut again = session("s1", "ST-2", vec![kwh(1, 1.1), kwh(2, 1.2)]);
    again["metadata"] = json!({"driver": "fleet-7"});
    let body = json_ok(app.post("/v1/sessions", &again).await).await;
    assert_eq!(body["status"], "active");
    let detail = app.get_ok("/v1/sessions/s1").await;
    assert_eq!(detail["meter_values"].as_array().unwrap().len(), 3);
    // The session moved station: both stations' aggregates follow.
    let stations = app.get_ok("/v1/stations").await;
    let count = |id: &str| {
        stations["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["external_station_id"] == id)
            .unwrap()["total_sessions"]
            .clone()
    };
    assert_eq!(count("ST-1"), 0);
    assert_eq!(count("ST-2"), 1);
    // So does the session's own row, which the station filter reads.
    let listed = |station: &str| format!("/v1/sessions?charging_station_id={station}");
    assert_eq!(app.get_ok(&listed("ST-2")).await["total"], 1);
    assert_eq!(app.get_ok(&listed("ST-1")).await["total"], 0);
}

#[tokio::test]
async fn an_earlier_reading_moves_the_session_start_that_date_filters_read() {
    let app = TestApp::spawn().await;
    let values = vec![kwh(0, 1.0), kwh(1, 1.1), kwh(2, 1.2)];
    json_ok(app.post("/v1/sessions", &session("s1", "ST-1", values)).await).await;
    let before_the_day = "/v1/sessions?date_to=2026-02-26T23:59:59Z";
    assert_eq!(app.get_ok(before_the_day).await["total"], 0);
    // 12 h earlier, the evening before: the start moves.
    let earlier = json!({"meter_values": [kwh(-720, 0.5)]});
    json_ok(app.patch("/v1/sessions/s1", &earlier).await).await;
    assert_eq!(app.get_ok(before_the_day).await["total"], 1);
    // A later reading leaves it where it is.
    let later = json!({"meter_values": [kwh(3, 1.3)]});
    json_ok(app.patch("/v1/sessions/s1", &later).await).await;
    assert_eq!(app.get_ok(before_the_day).await["total"], 1);
    assert_eq!(app.get_ok("/v1/sessions?date_from=2026-02-27").await["total"], 0);
    let detail = app.get_ok("/v1/sessions/s1").await;
    assert_eq!(detail["meter_values"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn empty_patch_changes_nothing_and_returns_the_current_state() {
    let app = TestApp::spawn().await;
    let created = json_ok(app.post("/v1/sessions", &reference_example()).await).await;
    let body = json_ok(
        app.patch("/v1/sessions/sess-abc-001", &json!({"meter_values": []}))
            .await,
    )
    .await;
    assert_eq!(body["analyzed_at"], created["analyzed_at"]);
}

#[tokio::test]
async fn unknown_sessions_are_404() {
    let app = TestApp::spawn().await;
    let error = json_error(
        app.patch("/v1/sessions/nope", &json!({"meter_values": [kwh(0, 1.0)]}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(error["code"], "not_found");
    json_error(
        app.put("/v1/sessions/nope", &json!({"meter_values": [kwh(0, 1.0)]}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    json_error(app.get("/v1/sessions/nope").await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn detail_is_found_by_internal_uuid_too() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &reference_example()).await).await;
    let list = app.get_ok("/v1/sessions").await;
    let uuid = list["items"][0]["session_id"].as_str().unwrap().to_owned();
    assert_eq!(list["items"][0]["external_session_id"], "sess-abc-001");
    let detail = app.get_ok(&format!("/v1/sessions/{uuid}")).await;
    assert_eq!(detail["session_id"], "sess-abc-001");
    assert_eq!(detail["meter_values"].as_array().unwrap().len(), 3);
    assert!(detail["created_at"].is_string());
}

#[tokio::test]
async fn list_filters_and_paginates() {
    let app = TestApp::spawn().await;
    for i in 0..25 {
        let mut values = steady_charge(30, 11.0, 100.0);
        if i % 5 == 0 {
            // The register steps back by 0.5 kWh at minute 20 and stays there.
            for (m, value) in values.iter_mut().enumerate().skip(20) {
                *value = kwh(m as i64, 100.0 + 11.0 * m as f64 / 60.0 - 0.5);
            }
        }
        let mut body = session(&format!("s{i:02}"), if i < 10 { "ST-A" } else { "ST-B" }, values);
        body["evse_id"] = json!(format!("NL*ACM*E{}", i % 2));
        json_ok(app.post("/v1/sessions", &body).await).await;
    }
    let page = app.get_ok("/v1/sessions?page=2&page_size=10").await;
    assert_eq!(page["total"], 25);
    assert_eq!(page["page"], 2);
    assert_eq!(page["page_size"], 10);
    assert_eq!(page["items"].as_array().unwrap().len(), 10);
    assert_eq!(
        app.get_ok("/v1/sessions?page=3&page_size=10").await["items"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(app.get_ok("/v1/sessions?is_anomaly=true").await["total"], 5);
    assert_eq!(app.get_ok("/v1/sessions?is_anomaly=false").await["total"], 20);
    assert_eq!(app.get_ok("/v1/sessions?min_score=0.5").await["total"], 5);
    assert_eq!(
        app.get_ok("/v1/sessions?charging_station_id=ST-A").await["total"],
        10
    );
    assert_eq!(app.get_ok("/v1/sessions?evse_id=NL*ACM*E1").await["total"], 12);
    assert_eq!(app.get_ok("/v1/sessions?min_confidence=0.0").await["total"], 25);
    assert_eq!(
        app.get_ok("/v1/sessions?date_from=2026-02-27&date_to=2026-02-27")
            .await["total"],
        25
    );
    assert_eq!(app.get_ok("/v1/sessions?date_from=2026-02-28").await["total"], 0);
    assert_eq!(
        app.get_ok("/v1/sessions?date_to=2026-02-26T23:59:59Z").await["total"],
        0
    );
    let anomalous = app.get_ok("/v1/sessions?is_anomaly=true&page_size=1").await;
    assert_eq!(anomalous["items"][0]["anomaly_count"], 1);
}

#[tokio::test]
async fn every_page_holds_the_next_sessions_newest_first_from_either_end() {
    let app = TestApp::spawn().await;
    // Starts out of posting order; the last two share a start, so the
    // newer post comes first among them.
    let starts: Vec<i64> = (0..13).map(|i: i64| (i * 5 % 13).min(11) * 40).collect();
    for (i, start) in starts.iter().enumerate() {
        let values = (0..=30).map(|m| kwh(start + m, 11.0 * m as f64 / 60.0)).collect();
        let station = if i % 2 == 0 { "ST-EVEN" } else { "ST-ODD" };
        json_ok(
            app.post("/v1/sessions", &session(&format!("s{i:02}"), station, values))
                .await,
        )
        .await;
    }
    let mut expected: Vec<(i64, usize)> = starts.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.iter().map(|(_, i)| format!("s{i:02}")).collect();

    // Pages 3-5 lie in the older half and are read from the oldest end.
    let mut walked = Vec::new();
    for page in 1..=6 {
        let body = app.get_ok(&format!("/v1/sessions?page={page}&page_size=3")).await;
        assert_eq!(body["total"], 13);
        walked.extend(ids(&body));
    }
    assert_eq!(walked, expected);

    let odd = app
        .get_ok("/v1/sessions?charging_station_id=ST-ODD&page=2&page_size=4")
        .await;
    let odd_expected: Vec<String> = expected
        .iter()
        .filter(|id| id[1..].parse::<usize>().unwrap() % 2 == 1)
        .skip(4)
        .take(4)
        .cloned()
        .collect();
    assert_eq!((odd["total"].clone(), ids(&odd)), (json!(6), odd_expected));

    // The station filter finds only the caller's sessions, although
    // another tenant has a station of the same name.
    let other = app.new_tenant("other").await;
    json_ok(
        app.post_as(
            &other,
            "/v1/sessions",
            &session("x", "ST-ODD", steady_charge(30, 11.0, 0.0)),
        )
        .await,
    )
    .await;
    assert_eq!(
        app.get_ok("/v1/sessions?charging_station_id=ST-ODD").await["total"],
        6
    );
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["external_session_id"].as_str().unwrap().to_owned())
        .collect()
}
