//! zero_session_surge on both sides of its evidence (issue 19): zero
//! sessions are counted as events (a driver's retries minutes apart are
//! one) and judged by how unlikely the count is under the station's own
//! rate of them.

use evni_shade::{assess_since, parse_day, AnomalyType, DayAggregate, History, Params};

const HOUR: i64 = 3_600_000_000;
const MINUTE: i64 = 60_000_000;

fn start() -> i64 {
    parse_day("2026-01-01").unwrap()
}

/// 120 days of 4 delivering sessions a day and one failed start every 10
/// days (at noon), plus `extra` zero sessions starting at the given
/// offsets from the start (in microseconds).
fn station(extra: &[i64]) -> History {
    station_failing_every(10, extra)
}

/// As [`station`], with a failed start every `every` days.
fn station_failing_every(every: i64, extra: &[i64]) -> History {
    let mut starts: Vec<i64> = (0..120)
        .filter(|i| i % every == 5)
        .map(|i| (start() + i) * 24 * HOUR + 12 * HOUR)
        .collect();
    starts.extend(extra);
    let days = (0..120).map(|i| {
        let day = start() + i;
        let zero = starts.iter().filter(|s| s.div_euclid(24 * HOUR) == day).count() as u32;
        (
            day,
            DayAggregate {
                sessions: 4 + zero,
                zero_sessions: zero,
                anomalous_sessions: zero,
                energy_kwh: 40.0,
                ..Default::default()
            },
        )
    });
    History::from_days(days).with_zero_starts(&starts, 15 * MINUTE)
}

fn surges(h: &History) -> Vec<evni_shade::StationAnomaly> {
    assess_since(h, start() + 100, start() + 119, &Params::default())
        .anomalies
        .into_iter()
        .filter(|a| a.anomaly_type == AnomalyType::ZeroSessionSurge)
        .collect()
}

fn at(day: i64, hour: i64, minute: i64) -> i64 {
    (start() + day) * 24 * HOUR + hour * HOUR + minute * MINUTE
}

#[test]
fn one_driver_retrying_is_one_event_not_a_surge() {
    // Eight attempts two minutes apart on day 110.
    let retries: Vec<i64> = (0..8).map(|k| at(110, 14, 2 * k)).collect();
    let h = station(&retries);
    assert_eq!(h.day(start() + 110).zero_events(), 1);
    assert!(surges(&h).is_empty(), "{:#?}", surges(&h));
}

#[test]
fn two_failed_drivers_on_a_day_are_not_yet_a_surge_at_a_tenth_a_day() {
    // P(X >= 2 | about 0.1 a day) is about 0.005: not below 0.001.
    let h = station(&[at(110, 9, 0), at(110, 17, 0)]);
    assert_eq!(h.day(start() + 110).zero_events(), 2);
    assert!(surges(&h).is_empty(), "{:#?}", surges(&h));
}

#[test]
fn failed_drivers_through_the_day_are_a_surge() {
    // Four drivers hours apart, each retrying once: four events.
    let failed: Vec<i64> = [8, 11, 15, 19]
        .iter()
        .flat_map(|&h| [at(110, h, 0), at(110, h, 3)])
        .collect();
    let h = station(&failed);
    assert_eq!(h.day(start() + 110).zero_events(), 4);
    let found = surges(&h);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].first_day, start() + 110);
    assert_eq!(found[0].details["zero_session_events"], 4);
}

#[test]
fn a_surge_needs_three_failed_starts_however_rare_they_were() {
    // One failed start in 120 days: two drivers failing on one day are
    // unlikely (p below 0.001), but too few to send a technician for.
    let two = station_failing_every(1000, &[at(110, 9, 0), at(110, 17, 0)]);
    assert!(surges(&two).is_empty(), "{:#?}", surges(&two));
    let loose = Params {
        count_min_events: 2,
        ..Params::default()
    };
    let found = assess_since(&two, start() + 100, start() + 119, &loose).anomalies;
    assert!(found
        .iter()
        .any(|a| a.anomaly_type == AnomalyType::ZeroSessionSurge));
    let three = station_failing_every(1000, &[at(110, 9, 0), at(110, 13, 0), at(110, 17, 0)]);
    assert_eq!(surges(&three).len(), 1);
}
