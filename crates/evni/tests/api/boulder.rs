//! A slice of real data (issue 19): City of Boulder's FACILITIES ST1,
//! January to July 2018 (tests/fixtures/boulder-facilities-2018.csv, taken
//! from the dev half of the open data), imported in one go through the API.
//! The station, at ~1.3 sessions a day, was silent 2018-06-16..2018-06-23
//! (p = 2.6e-5 under its previous 4 weeks' rate): the imported history is
//! judged, so that silence is in the anomaly history, resolved.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::health::quiet_app;
use crate::helpers::*;

const STATION: &str = "BLDR-FACILITIES-ST1";

/// The session a charge point would send for a fixture row: an energy
/// register every 15 minutes rising to the row's kWh; a row without
/// charging time or energy is a 1-minute start that delivered nothing.
fn session(fields: &[&str]) -> Value {
    let (date, start) = (fields[0], fields[1]);
    let minutes: f64 = fields[2].parse().unwrap_or(1.0_f64).max(1.0);
    let kwh: f64 = fields[3].parse().unwrap_or(0.0);
    let t0 = chrono::NaiveDateTime::parse_from_str(&format!("{date} {start}"), "%Y-%m-%d %H:%M")
        .unwrap()
        .and_utc();
    let mut values = Vec::new();
    let mut at = 0.0_f64;
    loop {
        let t = at.min(minutes);
        let ts = t0 + chrono::Duration::seconds((t * 60.0) as i64);
        values.push(
            json!({"timestamp": ts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "measurand": "Energy.Active.Import.Register", "unit": "kWh", "value": kwh * t / minutes}),
        );
        if t >= minutes {
            break;
        }
        at += 15.0;
    }
    json!({"session_id": format!("bldr-{}", fields[4]), "charging_station_id": STATION,
           "connector_id": "1", "meter_values": values})
}

#[tokio::test]
async fn imported_real_history_is_judged_and_its_silence_found() {
    // The scheduler judges the station once its data has been quiet a moment.
    let app = quiet_app(|c| c.shade_debounce = "300ms".into()).await;
    let fixture = include_str!("../fixtures/boulder-facilities-2018.csv");
    for line in fixture.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        json_ok(app.post("/v1/sessions", &session(&fields)).await).await;
    }

    // Every day of the import is judged, not only the last 28.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let inference = app.get_ok(&format!("/v1/stations/{STATION}/inference")).await;
        if inference["detection_details"]["judged_through"] == "2018-07-31" {
            break;
        }
        assert!(Instant::now() < deadline, "not judged through July: {inference}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let history = app
        .get_ok(&format!("/v1/stations/{STATION}/anomalies?page_size=100"))
        .await;
    let items = history["items"].as_array().unwrap();
    let silence = items
        .iter()
        .map(|i| &i["detection_details"])
        .find(|d| d["anomaly_type"] == "station_silent" && d["affected_period"] == "2018-06-16")
        .unwrap_or_else(|| panic!("the June silence is found: {history}"));
    assert_eq!(silence["status"], "resolved", "{silence}");
    assert_eq!(silence["resolved_on"], "2018-06-24", "{silence}");
    let detected = silence["detected_on"].as_str().unwrap();
    assert!(("2018-06-16".."2018-06-24").contains(&detected), "{silence}");
    // Few alerts besides: seven months of a real station.
    assert!(items.len() <= 3, "{history}");
}
