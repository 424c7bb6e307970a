//! Each station anomaly type is found on a crafted history and absent on a
//! healthy one.

use std::collections::BTreeMap;

use evni_shade::{assess, day_label, parse_day, AnomalyType, DayAggregate, History, Params};

const CONNECTORS: [&str; 3] = ["1", "2", "3"];

/// A fault applied to one day.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    Silent,
    Outage,
    EnergyDrop,
    ZeroSurge,
    PowerDrop,
    AnomalySpike,
}

/// A busy, slightly noisy station: ~30 sessions a day (fewer at weekends),
/// 20 kWh each at ~50 kW, one zero and one anomalous session in ~25.
fn day(d: i64, fault: Fault) -> DayAggregate {
    let mut noise = (d as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        noise = noise
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (noise >> 33) as f64 / (1u64 << 31) as f64
    };
    let weekend = matches!((d + 3).rem_euclid(7), 5 | 6);
    let base = if weekend { 24.0 } else { 32.0 };
    let sessions = (base + 6.0 * (next() - 0.5)).round() as u32;
    let mut a = DayAggregate {
        sessions,
        energy_kwh: sessions as f64 * 20.0 * (0.85 + 0.3 * next()),
        zero_sessions: u32::from(next() < 0.3),
        anomalous_sessions: u32::from(next() < 0.3),
        plateaus_kw: (0..sessions).map(|_| 40.0 + 20.0 * next()).collect(),
        connector_sessions: BTreeMap::new(),
        zero_events: None,
    };
    a.anomalous_sessions += a.zero_sessions;
    let per = |n: u32, connectors: &[&str]| {
        let mut map = BTreeMap::new();
        for i in 0..n {
            *map.entry(connectors[i as usize % connectors.len()].to_string())
                .or_insert(0) += 1;
        }
        map
    };
    a.connector_sessions = per(sessions, &CONNECTORS);
    match fault {
        Fault::None => {}
        Fault::Silent => return DayAggregate::default(),
        Fault::Outage => a.connector_sessions = per(sessions, &CONNECTORS[1..]),
        Fault::EnergyDrop => a.energy_kwh *= 0.35,
        Fault::ZeroSurge => {
            a.zero_sessions = sessions / 2;
            a.anomalous_sessions = a.zero_sessions;
        }
        Fault::PowerDrop => a.plateaus_kw.iter_mut().for_each(|p| *p *= 0.45),
        Fault::AnomalySpike => a.anomalous_sessions = a.zero_sessions + sessions / 2,
    }
    a
}

fn start() -> i64 {
    parse_day("2026-01-01").unwrap()
}

/// 60 days of history, `fault` on days `from..=to` (offsets from the start).
fn history(fault: Fault, from: i64, to: i64) -> History {
    History::from_days((0..60).map(|i| {
        let f = if (from..=to).contains(&i) {
            fault
        } else {
            Fault::None
        };
        (start() + i, day(start() + i, f))
    }))
}

/// `kind` is found on a three-day fault, within `days` days of its start.
fn assert_detects(fault: Fault, kind: AnomalyType, days: i64) {
    let h = history(fault, 50, 52);
    let as_of = start() + 52;
    let result = assess(&h, as_of, &Params::default());
    let found: Vec<_> = result
        .anomalies
        .iter()
        .filter(|a| a.anomaly_type == kind)
        .collect();
    assert_eq!(found.len(), 1, "{kind:?}: {:#?}", result.anomalies);
    let a = found[0];
    assert_eq!(a.first_day, start() + 50);
    assert_eq!(a.details["anomaly_type"], kind.as_str());
    assert_eq!(a.details["affected_period"], day_label(start() + 50));
    assert!(a.score >= 0.5 && a.score <= 1.0, "{a:?}");
    assert!(result.is_anomaly);
    let early = assess(&h, start() + 49 + days, &Params::default());
    assert!(
        early.anomalies.iter().any(|a| a.anomaly_type == kind),
        "{kind:?} not found within {days} day(s): {:#?}",
        early.anomalies
    );
    // A connector's outage needs two days of a third of the sessions;
    // nothing else is reported but the detected type.
    let others: Vec<_> = result
        .anomalies
        .iter()
        .filter(|a| a.anomaly_type != kind)
        .collect();
    assert!(others.is_empty(), "{kind:?} also gave {others:#?}");
}

#[test]
fn a_healthy_station_has_no_anomaly() {
    let h = history(Fault::None, 0, -1);
    for as_of in 30..60 {
        let result = assess(&h, start() + as_of, &Params::default());
        assert!(
            result.anomalies.is_empty(),
            "day {as_of}: {:#?}",
            result.anomalies
        );
        assert!(!result.is_anomaly);
        assert!(result.anomaly_score < 0.5);
        assert!(result.detection_details["anomaly_type"].is_null());
        assert!(result.detection_details["expected_energy_kwh"].as_f64().unwrap() > 100.0);
    }
}

#[test]
fn energy_drop_is_found_with_expected_and_actual_energy() {
    // A day's energy varies at least as a sum of ~30 sessions: a drop to
    // a third is certain on the second day.
    assert_detects(Fault::EnergyDrop, AnomalyType::EnergyDrop, 2);
    let result = assess(
        &history(Fault::EnergyDrop, 50, 52),
        start() + 52,
        &Params::default(),
    );
    let a = &result.anomalies[0];
    let expected = a.details["expected_energy_kwh"].as_f64().unwrap();
    let actual = a.details["actual_energy_kwh"].as_f64().unwrap();
    assert!(actual < 0.5 * expected, "{a:?}");
    assert_eq!(a.details["affected_days"], 3);
    // The score follows the size of the drop.
    let milder = History::from_days((0..60).map(|i| {
        let mut d = day(start() + i, Fault::None);
        if (50..=52).contains(&i) {
            d.energy_kwh *= 0.5;
        }
        (start() + i, d)
    }));
    let mild = assess(&milder, start() + 52, &Params::default());
    assert!(mild.anomalies[0].score < a.score, "{mild:?}");
}

#[test]
fn station_silent_is_found() {
    assert_detects(Fault::Silent, AnomalyType::StationSilent, 1);
}

#[test]
fn connector_outage_names_the_connector() {
    assert_detects(Fault::Outage, AnomalyType::ConnectorOutage, 2);
    let result = assess(&history(Fault::Outage, 50, 52), start() + 52, &Params::default());
    assert_eq!(result.anomalies[0].connector_id.as_deref(), Some("1"));
    assert_eq!(result.anomalies[0].details["connector_id"], "1");
    assert_eq!(result.anomalies[0].details["actual_sessions"], 0);
}

#[test]
fn zero_session_surge_is_found() {
    assert_detects(Fault::ZeroSurge, AnomalyType::ZeroSessionSurge, 1);
}

#[test]
fn power_degradation_is_found() {
    assert_detects(Fault::PowerDrop, AnomalyType::PowerDegradation, 1);
}

#[test]
fn anomaly_rate_spike_is_found() {
    assert_detects(Fault::AnomalySpike, AnomalyType::AnomalyRateSpike, 1);
}

#[test]
fn an_episode_keeps_its_first_day_and_a_past_one_is_not_ongoing() {
    let h = history(Fault::Silent, 40, 44);
    for as_of in 44..60 {
        let result = assess(&h, start() + as_of, &Params::default());
        let silent: Vec<_> = result
            .anomalies
            .iter()
            .filter(|a| a.anomaly_type == AnomalyType::StationSilent)
            .collect();
        assert_eq!(silent.len(), 1, "as of {as_of}");
        assert_eq!(silent[0].first_day, start() + 40);
        assert_eq!(silent[0].last_day, start() + 44);
        assert_eq!(result.is_anomaly, as_of == 44, "as of {as_of}");
    }
}

#[test]
fn a_quiet_station_going_silent_needs_more_than_a_day() {
    // Three sessions a day: one empty day is chance, four are not.
    let quiet = |silent: i64| {
        History::from_days((0..60).map(move |i| {
            let sessions = if (50..50 + silent).contains(&i) { 0 } else { 3 };
            let mut connectors = BTreeMap::new();
            if sessions > 0 {
                connectors.insert("1".to_string(), sessions);
            }
            (
                start() + i,
                DayAggregate {
                    sessions,
                    energy_kwh: 30.0 * sessions as f64,
                    connector_sessions: connectors,
                    ..Default::default()
                },
            )
        }))
    };
    let one = assess(&quiet(1), start() + 50, &Params::default());
    assert!(one.anomalies.is_empty(), "{one:#?}");
    assert!(one.anomaly_score > 0.0 && one.anomaly_score < 0.5);
    let four = assess(&quiet(4), start() + 53, &Params::default());
    let silent = four
        .anomalies
        .iter()
        .find(|a| a.anomaly_type == AnomalyType::StationSilent)
        .expect("four silent days are found");
    assert_eq!(silent.first_day, start() + 50);
    assert!(silent.detected_on > start() + 50);
}

#[test]
fn a_new_station_is_not_judged() {
    let h = History::from_days((0..5).map(|i| (start() + i, day(start() + i, Fault::None))));
    let result = assess(&h, start() + 10, &Params::default());
    assert!(result.anomalies.is_empty() && !result.is_anomaly);
    assert!(result.detection_details["note"].is_string());
}

#[test]
fn each_days_expectation_follows_its_weekday_and_leaves_silence_out() {
    // Silent on days 40-44, judged over days 45-59.
    let h = history(Fault::Silent, 40, 44);
    let result = evni_shade::assess_since(&h, start() + 45, start() + 59, &Params::default());
    let days: Vec<i64> = result.expected.iter().map(|e| e.day).collect();
    assert_eq!(days, (start() + 45..=start() + 59).collect::<Vec<_>>());
    let sessions = |weekend: bool| -> Vec<f64> {
        result
            .expected
            .iter()
            .filter(|e| matches!((e.day + 3).rem_euclid(7), 5 | 6) == weekend)
            .map(|e| e.sessions.unwrap())
            .collect()
    };
    // About 32 sessions on weekdays and 24 at weekends; a baseline that
    // learned the silent days would expect a sixth less.
    let (weekdays, weekends) = (sessions(false), sessions(true));
    assert!(weekdays.iter().all(|s| (29.0..35.0).contains(s)), "{weekdays:?}");
    assert!(weekends.iter().all(|s| (21.0..27.0).contains(s)), "{weekends:?}");
    assert!(result.expected.iter().all(|e| e.energy_kwh.unwrap() > 300.0));
}
