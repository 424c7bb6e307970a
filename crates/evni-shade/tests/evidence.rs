//! Evidence-sized detection (issue 19): silence and energy drops are judged
//! by how unlikely the days are under the station's own rate, with no fixed
//! floor; an episode's days are not learned into its baseline; it resolves
//! when the station is back; aborted starts are no sessions.

use evni_shade::{assess, assess_since, parse_day, AnomalyType, DayAggregate, History, Params};

fn start() -> i64 {
    parse_day("2026-01-01").unwrap()
}

/// A station with `rate` sessions a day on average, spread evenly (a
/// session whenever the running total crosses a whole number), 8 kWh each,
/// silent on `silent` (offsets from the start).
fn station(rate: f64, days: i64, silent: std::ops::Range<i64>) -> History {
    History::from_days((0..days).filter_map(|i| {
        let sessions = ((i + 1) as f64 * rate).floor() as u32 - (i as f64 * rate).floor() as u32;
        (sessions > 0 && !silent.contains(&i)).then(|| {
            (
                start() + i,
                DayAggregate {
                    sessions,
                    energy_kwh: 8.0 * sessions as f64,
                    ..Default::default()
                },
            )
        })
    }))
}

fn silences(h: &History, from: i64, as_of: i64) -> Vec<evni_shade::StationAnomaly> {
    assess_since(h, start() + from, start() + as_of, &Params::default())
        .anomalies
        .into_iter()
        .filter(|a| a.anomaly_type == AnomalyType::StationSilent)
        .collect()
}

#[test]
fn a_one_a_day_station_silent_for_ten_days_is_flagged_not_after_five() {
    let h = station(1.0, 70, 50..70);
    // e^-5 = 0.0067: not yet unlikely enough.
    assert!(silences(&h, 40, 54).is_empty());
    // e^-10 = 4.5e-5: flagged, from the silence's first day.
    let found = silences(&h, 40, 59);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].first_day, start() + 50);
    assert!(found[0].detected_on <= start() + 57, "{:?}", found[0]);
}

#[test]
fn a_tenth_a_day_station_is_not_flagged_after_three_days() {
    let h = station(0.1, 60, 57..60);
    assert!(silences(&h, 30, 59).is_empty());
    // ...but two silent months are unlikely even for it (e^-6.1 < 0.001
    // only after ~69 days): still nothing after 40.
    let h = station(0.1, 100, 60..100);
    assert!(silences(&h, 30, 99).is_empty());
}

#[test]
fn a_long_silence_is_one_ongoing_episode_not_learned_into_the_baseline() {
    // 2 a day, then silent for 86 days: one episode, still going on, its
    // expected sessions keep growing from the rate before it.
    let h = station(2.0, 130, 44..130);
    let result = assess_since(&h, start() + 30, start() + 129, &Params::default());
    let found: Vec<_> = result
        .anomalies
        .iter()
        .filter(|a| a.anomaly_type == AnomalyType::StationSilent)
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].first_day, start() + 44);
    assert_eq!(found[0].last_day, start() + 129);
    assert_eq!(found[0].details["status"], "ongoing");
    assert!(found[0].details["expected_sessions"].as_f64().unwrap() > 150.0);
    assert!(result.is_anomaly);
    assert_eq!(result.detection_details["anomaly_type"], "station_silent");
}

#[test]
fn an_episode_resolves_when_sessions_return() {
    let h = station(2.0, 90, 50..70);
    let found = silences(&h, 60, 89);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].last_day, start() + 69);
    assert_eq!(found[0].details["status"], "resolved");
    assert_eq!(
        found[0].details["resolved_on"],
        evni_shade::day_label(start() + 70)
    );
    // Resolved long ago: not reported by a run that starts later.
    assert!(silences(&h, 80, 89).is_empty());
}

#[test]
fn a_weekend_without_sessions_does_not_end_a_silence() {
    // Sessions only on weekdays; the silence runs over weekends.
    let weekdays = History::from_days((0..80).filter_map(|i| {
        let d = start() + i;
        let weekend = matches!((d + 3).rem_euclid(7), 5 | 6);
        (!weekend && !(50..80).contains(&i)).then(|| {
            (
                d,
                DayAggregate {
                    sessions: 1,
                    energy_kwh: 8.0,
                    ..Default::default()
                },
            )
        })
    }));
    let found = silences(&weekdays, 40, 79);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].last_day, start() + 79);
}

#[test]
fn aborted_starts_are_no_sessions() {
    // Days of nothing but zero sessions from day 50 are silence.
    let days = (0..70).map(|i| {
        let aborted = i >= 50;
        (
            start() + i,
            DayAggregate {
                sessions: 2,
                zero_sessions: if aborted { 2 } else { 0 },
                energy_kwh: if aborted { 0.04 } else { 16.0 },
                ..Default::default()
            },
        )
    });
    let h = History::from_days(days);
    let found = silences(&h, 40, 69);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].first_day, start() + 50);
}

#[test]
fn energy_drop_at_a_small_station_needs_days_of_evidence() {
    // 3 sessions a day of 8 kWh (24 kWh a day, under the former 20 kWh
    // floor at weekends); from day 50 each delivers 1 kWh.
    let h = History::from_days((0..80).map(|i| {
        let kwh = if i >= 50 { 1.0 } else { 8.0 };
        (
            start() + i,
            DayAggregate {
                sessions: 3,
                energy_kwh: 3.0 * kwh,
                ..Default::default()
            },
        )
    }));
    let drops = |as_of: i64| {
        assess(&h, start() + as_of, &Params::default())
            .anomalies
            .into_iter()
            .filter(|a| a.anomaly_type == AnomalyType::EnergyDrop)
            .count()
    };
    assert_eq!(drops(49), 0);
    assert_eq!(drops(79), 1);
}
