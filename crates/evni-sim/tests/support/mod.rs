//! Reads generated lines back from JSON, independently of the crate's
//! internals, into normalised series and the analysed window.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::DateTime;
use evni_sim::{SimConfig, StationSpec};
use serde_json::Value;

pub const WINDOW_S: i64 = 6 * 3600;
pub const BUCKET_S: i64 = 900;

/// One generated line, parsed.
pub struct Line {
    pub json: Value,
    pub kind: String,
    /// (category, start, end)
    pub labels: Vec<(String, u32, u32)>,
    pub rated_kw: f64,
    /// Series in analysis units (kWh, kW, %), all readings of the session.
    pub energy: Vec<(i64, f64)>,
    pub power: Vec<(i64, f64)>,
    pub soc: Vec<(i64, f64)>,
    pub times: Vec<i64>,
    pub t0: i64,
    pub last: i64,
}

impl Line {
    pub fn bucket(&self, t: i64) -> u32 {
        (((t - self.t0) / BUCKET_S) as u32).min(23)
    }

    pub fn in_window(&self, series: &[(i64, f64)]) -> Vec<(i64, f64)> {
        series.iter().copied().filter(|(t, _)| *t >= self.t0).collect()
    }

    pub fn label(&self) -> (u32, u32) {
        (self.labels[0].1, self.labels[0].2)
    }
}

pub fn config() -> SimConfig {
    SimConfig::new(500, 7)
}

/// The 500-session run most tests look at, generated once.
pub fn run() -> &'static [Line] {
    static RUN: OnceLock<Vec<Line>> = OnceLock::new();
    RUN.get_or_init(|| {
        let stations = evni_sim::stations(&config());
        evni_sim::simulate(config())
            .map(|s| parse(serde_json::to_value(&s).unwrap(), &stations))
            .collect()
    })
}

pub fn parse(json: Value, stations: &[StationSpec]) -> Line {
    let request = &json["request"];
    let station_id = request["charging_station_id"].as_str().unwrap();
    let rated_kw = stations
        .iter()
        .find(|s| s.id == station_id)
        .unwrap()
        .rated_power_kw;
    let (mut energy, mut power, mut soc) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut times = Vec::new();
    for mv in request["meter_values"].as_array().unwrap() {
        let ts = DateTime::parse_from_rfc3339(mv["timestamp"].as_str().unwrap())
            .unwrap()
            .timestamp();
        times.push(ts);
        let value = mv["value"].as_f64().unwrap();
        let unit = mv.get("unit").and_then(Value::as_str).unwrap_or("Wh");
        let scaled = if unit == "Wh" || unit == "W" {
            value / 1000.0
        } else {
            value
        };
        match mv
            .get("measurand")
            .and_then(Value::as_str)
            .unwrap_or("Energy.Active.Import.Register")
        {
            "Energy.Active.Import.Register" => {
                energy.insert(ts, scaled);
            }
            "Power.Active.Import" => {
                power.insert(ts, scaled);
            }
            "SoC" => {
                soc.insert(ts, value);
            }
            _ => {}
        }
    }
    times.sort_unstable();
    times.dedup();
    let last = *times.last().unwrap();
    let t0 = *times.iter().find(|t| **t >= last - WINDOW_S).unwrap();
    let labels = json["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let unit = |k: &str| l[k].as_u64().unwrap() as u32;
            (
                l["category"].as_str().unwrap().to_string(),
                unit("start_unit"),
                unit("end_unit"),
            )
        })
        .collect();
    Line {
        kind: json["kind"].as_str().unwrap().to_string(),
        labels,
        rated_kw,
        energy: energy.into_iter().collect(),
        power: power.into_iter().collect(),
        soc: soc.into_iter().collect(),
        times,
        t0,
        last,
        json,
    }
}

pub fn of_kind(kind: &str) -> Vec<&'static Line> {
    let lines: Vec<_> = run().iter().filter(|l| l.kind == kind).collect();
    assert!(!lines.is_empty(), "no {kind} session in the run");
    lines
}

pub fn median(mut values: Vec<i64>) -> i64 {
    values.sort_unstable();
    values[values.len() / 2]
}
