//! Whole-run properties: determinism, coverage, format, clean sessions.

mod support;

use std::collections::{HashMap, HashSet};

use evni_domain::MeterValueIn;
use evni_sim::{SessionKind, SimConfig};
use support::{config, median, of_kind, run};

fn bytes(config: &SimConfig) -> Vec<u8> {
    let mut out = Vec::new();
    let written = evni_sim::write_jsonl(config, &mut out).unwrap();
    assert_eq!(written, config.sessions);
    out
}

#[test]
fn same_seed_same_bytes_and_other_seed_other_bytes() {
    let a = bytes(&SimConfig::new(40, 11));
    assert_eq!(a, bytes(&SimConfig::new(40, 11)));
    assert_ne!(a, bytes(&SimConfig::new(40, 12)));
    assert_eq!(String::from_utf8(a).unwrap().lines().count(), 40);
}

#[test]
fn a_session_does_not_depend_on_how_many_are_requested() {
    let few: Vec<_> = evni_sim::simulate(SimConfig::new(5, 3)).collect();
    let many: Vec<_> = evni_sim::simulate(SimConfig::new(30, 3)).collect();
    assert_eq!(few[..], many[..5]);
    assert_eq!(evni_sim::simulate_session(&SimConfig::new(1, 3), 17), many[17]);
}

#[test]
fn every_kind_appears_and_about_half_are_clean() {
    let counts = run().iter().fold(HashMap::new(), |mut m, l| {
        *m.entry(l.kind.as_str()).or_insert(0) += 1;
        m
    });
    for kind in SessionKind::all() {
        assert!(
            counts.get(kind.as_str()).copied().unwrap_or(0) >= 10,
            "{kind}: {counts:?}"
        );
    }
    let clean = counts["clean"] as f64 / run().len() as f64;
    assert!((0.4..0.6).contains(&clean), "clean share {clean}");
}

#[test]
fn kinds_can_be_restricted() {
    let kinds = vec![
        SessionKind::parse("data_gap").unwrap(),
        SessionKind::parse("METER_STUCK").unwrap(),
    ];
    let config = SimConfig {
        kinds: Some(kinds.clone()),
        ..SimConfig::new(30, 5)
    };
    for session in evni_sim::simulate(config) {
        assert!(kinds.contains(&session.kind));
    }
    let clean_only = SimConfig {
        fault_share: 0.0,
        ..SimConfig::new(20, 5)
    };
    assert!(evni_sim::simulate(clean_only).all(|s| s.kind == SessionKind::Clean && s.labels.is_empty()));
}

#[test]
fn labels_match_kind_and_stay_within_the_window() {
    for line in run() {
        if line.kind == "clean" {
            assert!(line.labels.is_empty());
            continue;
        }
        assert_eq!(line.labels.len(), 1, "{}", line.json["request"]["session_id"]);
        let (category, start, end) = &line.labels[0];
        assert_eq!(category, &line.kind);
        assert!(start <= end && *end <= 23);
        assert!(*end <= line.bucket(line.last));
    }
}

#[test]
fn requests_use_valid_ocpp_spellings() {
    // Far enough ahead that no simulated reading is "in the future".
    let now = 4_000_000_000_000_000;
    for line in run() {
        let request = &line.json["request"];
        for key in ["session_id", "charging_station_id", "connector_id"] {
            assert!(request[key].is_string(), "{key}");
        }
        let text = request["meter_values"].to_string();
        let values: Vec<MeterValueIn> = serde_json::from_str(&text).unwrap();
        assert!(values.len() >= 3);
        for (i, mv) in values.iter().enumerate() {
            let reading = mv.validate(&format!("meter_values[{i}]"), now).unwrap();
            // Canonical spelling, not just a case-insensitive match.
            for field in ["measurand", "unit", "phase", "location"] {
                if let Some(text) = request["meter_values"][i][field].as_str() {
                    let canonical = match field {
                        "measurand" => reading.measurand.as_str(),
                        "unit" => reading.unit.unwrap().as_str(),
                        "phase" => reading.phase.unwrap().as_str(),
                        _ => reading.location.as_str(),
                    };
                    assert_eq!(text, canonical);
                }
            }
        }
    }
}

#[test]
fn the_reference_rules_find_exactly_the_labels() {
    let stations = evni_sim::stations(&config());
    for session in evni_sim::simulate(config()) {
        let rated = stations
            .iter()
            .find(|s| s.id == session.request.charging_station_id)
            .unwrap()
            .rated_power_kw;
        let labelled: Vec<_> = session.labels.iter().map(|l| l.category).collect();
        // With the station's rating, and with only what the request carries.
        let carried = evni_sim::rules::carried_rating(&session.request);
        for rating in [Some(rated), carried] {
            let mut found: Vec<_> = evni_sim::rules::find_anomalies(&session.request, rating)
                .into_iter()
                .map(|l| l.category)
                .collect();
            found.dedup();
            assert_eq!(found, labelled, "{} rated {rating:?}", session.request.session_id);
        }
    }
}

#[test]
fn clean_sessions_are_clean() {
    for line in of_kind("clean") {
        let id = &line.json["request"]["session_id"];
        let energy = line.in_window(&line.energy);
        for pair in energy.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(b.1 >= a.1 - 0.0005, "{id}: register decreases");
            // Registers with 2 decimals of kWh round by up to 10 Wh.
            let hours = (b.0 - a.0) as f64 / 3600.0;
            let kw = (b.1 - a.1) / hours;
            assert!(
                kw <= line.rated_kw * 1.01 + 0.011 / hours,
                "{id}: register rises at {kw} kW"
            );
        }
        assert!(
            energy.last().unwrap().1 - energy[0].1 >= 0.1,
            "{id}: nothing delivered"
        );
        assert!(line.energy[0].1 > 1.0, "{id}: lifetime register starts at zero");
        let intervals: Vec<i64> = line.times.windows(2).map(|p| p[1] - p[0]).collect();
        let median = median(intervals.clone());
        assert!(
            intervals.iter().all(|&i| i < 1800 || i < 3 * median),
            "{id}: data gap"
        );
        assert!(
            line.soc.windows(2).all(|p| p[1].1 >= p[0].1),
            "{id}: SoC decreases"
        );
        assert!(
            line.power.iter().all(|p| p.1 <= line.rated_kw),
            "{id}: power above rating"
        );
    }
}

#[test]
fn sessions_look_like_a_real_fleet() {
    let lines = run();
    let share = |pred: &dyn Fn(&support::Line) -> bool| {
        lines.iter().filter(|l| pred(l)).count() as f64 / lines.len() as f64
    };
    let units: HashSet<&str> = lines
        .iter()
        .flat_map(|l| l.json["request"]["meter_values"].as_array().unwrap())
        .filter_map(|mv| mv["unit"].as_str())
        .collect();
    for unit in ["Wh", "kWh", "W", "kW", "Percent", "A", "V"] {
        assert!(units.contains(unit), "{unit} never used");
    }
    assert!(share(&|l| l.power.is_empty()) > 0.05, "energy-only sessions");
    assert!(share(&|l| l.soc.is_empty()) > 0.1, "sessions without SoC");
    assert!(
        share(&|l| l.last - l.times[0] > 6 * 3600) > 0.05,
        "sessions longer than the window"
    );
    assert!(lines
        .iter()
        .all(|l| (1200..=12 * 3600).contains(&(l.last - l.times[0]))));
    let intervals: HashSet<i64> = lines
        .iter()
        .map(|l| median(l.times.windows(2).map(|p| p[1] - p[0]).collect()) / 30)
        .collect();
    assert!(intervals.len() >= 5, "sampling intervals {intervals:?}");
    let mut per_station = HashMap::new();
    for l in lines {
        *per_station
            .entry(l.json["request"]["charging_station_id"].as_str().unwrap())
            .or_insert(0) += 1;
    }
    assert!(per_station.values().any(|&n| n >= 20), "busy stations");
}

#[test]
fn novel_faults_stay_within_what_a_meter_produces() {
    // The API refuses registers below zero: a fault that pushed one there
    // would make the simulated session unpostable.
    let config = SimConfig {
        novel_share: 0.5,
        ..SimConfig::new(300, 21)
    };
    for session in evni_sim::simulate(config) {
        let text = serde_json::to_string(&session.request.meter_values).unwrap();
        let values: Vec<MeterValueIn> = serde_json::from_str(&text).unwrap();
        for (i, mv) in values.iter().enumerate() {
            let field = format!("{}.meter_values[{i}]", session.request.session_id);
            mv.validate(&field, 4_000_000_000_000_000)
                .unwrap_or_else(|e| panic!("{field}: {e:?}"));
        }
    }
}
