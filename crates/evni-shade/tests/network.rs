//! Network events (issue 19): stations falling together are one event of
//! the network, and each station is judged only against what the others
//! did not do.

use evni_shade::{
    assess_network, assess_since, parse_day, AnomalyType, DayAggregate, History, NetworkAssessment, Params,
};

fn start() -> i64 {
    parse_day("2026-01-01").unwrap()
}

/// A station with `rate` sessions a day times `level(day)`, spread evenly
/// (a session whenever the running total crosses a whole number), 8 kWh each.
fn station(rate: f64, days: i64, level: impl Fn(i64) -> f64) -> History {
    let mut total = 0.0;
    History::from_days((0..days).filter_map(|i| {
        let before = total;
        total += rate * level(i);
        let sessions = total.floor() as u32 - before.floor() as u32;
        (sessions > 0).then(|| {
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

/// `n` stations at 3 sessions a day; the first `falling` of them at
/// `level` of it on days `fall`.
fn network(n: usize, falling: usize, level: f64, fall: std::ops::Range<i64>) -> Vec<History> {
    (0..n)
        .map(|s| {
            let fall = fall.clone();
            // Offsets, so the stations do not all count alike.
            let rate = 3.0 + 0.1 * s as f64;
            station(rate, 100, move |d| {
                if s < falling && fall.contains(&d) {
                    level
                } else {
                    1.0
                }
            })
        })
        .collect()
}

fn judge(stations: &[History]) -> NetworkAssessment {
    assess_network(stations, start() + 40, start() + 99, &Params::default())
}

/// Station anomalies of station `s`, judged with its common movement.
fn station_anomalies(stations: &[History], s: usize, judged: &NetworkAssessment) -> Vec<AnomalyType> {
    let movement = judged
        .movements
        .iter()
        .filter(|m| m.station == s)
        .map(|m| (m.day, m.factor));
    let history = stations[s].clone().with_common_movement(movement);
    assess_since(&history, start() + 40, start() + 99, &Params::default())
        .anomalies
        .into_iter()
        .map(|a| a.anomaly_type)
        .collect()
}

#[test]
fn stations_falling_together_are_one_network_event_not_station_faults() {
    let stations = network(10, 10, 0.1, 60..80);
    let judged = judge(&stations);
    assert_eq!(judged.events.len(), 1, "{:?}", judged.events);
    let event = &judged.events[0];
    assert_eq!(event.first_day, start() + 60);
    assert_eq!(event.last_day, start() + 79);
    assert_eq!(event.details["event_type"], "network_drop");
    assert_eq!(event.details["status"], "resolved");
    assert_eq!(event.details["stations_fallen"], 10);
    assert!(!judged.is_drop);
    for s in 0..10 {
        assert!(
            station_anomalies(&stations, s, &judged).is_empty(),
            "station {s} blamed for the network"
        );
    }
    // Without the network's movement, the stations would be blamed.
    let alone = assess_since(&stations[0], start() + 40, start() + 99, &Params::default());
    assert!(!alone.anomalies.is_empty());
}

#[test]
fn an_ongoing_drop_is_the_networks_verdict() {
    let stations = network(10, 10, 0.1, 60..100);
    let judged = judge(&stations);
    assert!(judged.is_drop);
    assert_eq!(judged.details["status"], "ongoing");
}

#[test]
fn a_drop_needs_half_the_stations() {
    // Six of ten stations stopping: the network at 0.4 of its sessions, broad.
    let judged = judge(&network(10, 6, 0.0, 60..70));
    assert_eq!(judged.events.len(), 1);
    // Four of ten: a deficit, but not the network's.
    let judged = judge(&network(10, 4, 0.0, 60..70));
    assert!(judged.events.is_empty(), "{:?}", judged.events);
}

#[test]
fn a_network_of_two_stations_has_no_events() {
    let judged = judge(&network(2, 2, 0.0, 60..70));
    assert!(judged.events.is_empty());
    assert!(judged.movements.is_empty());
}

#[test]
fn a_big_station_going_silent_is_its_own_fault() {
    // One station with most of the network's sessions stops: the network
    // falls below half, but the others did not move.
    let mut stations = network(6, 0, 1.0, 0..0);
    stations[0] = station(30.0, 100, |d| if (60..70).contains(&d) { 0.0 } else { 1.0 });
    let judged = judge(&stations);
    assert!(judged.events.is_empty());
    assert!(judged.movements.is_empty());
    assert!(station_anomalies(&stations, 0, &judged).contains(&AnomalyType::StationSilent));
}

#[test]
fn a_station_silent_while_the_others_merely_slowed_is_blamed() {
    // The network at 0.3; one station fully silent for 20 days at an
    // expectation of 3 x 0.3 a day is still unlikely.
    let mut stations = network(10, 10, 0.3, 60..80);
    stations[9] = station(3.0, 100, |d| if (60..80).contains(&d) { 0.0 } else { 1.0 });
    let judged = judge(&stations);
    assert_eq!(judged.events.len(), 1);
    // Its own silence is left out of its movement: the others' 0.3.
    let own: Vec<f64> = judged
        .movements
        .iter()
        .filter(|m| m.station == 9)
        .map(|m| m.factor)
        .collect();
    assert!(
        !own.is_empty() && own.iter().all(|f| (0.25..0.35).contains(f)),
        "{own:?}"
    );
    assert!(station_anomalies(&stations, 9, &judged).contains(&AnomalyType::StationSilent));
    assert!(station_anomalies(&stations, 0, &judged).is_empty());
}

#[test]
fn where_a_run_starts_does_not_change_the_events() {
    let stations = network(10, 10, 0.1, 60..80);
    let whole = assess_network(&stations, start() + 40, start() + 99, &Params::default());
    let late = assess_network(&stations, start() + 75, start() + 99, &Params::default());
    assert_eq!(whole.events, late.events);
}

#[test]
fn the_next_run_gives_again_the_events_of_its_rejudged_days() {
    // A run ends on a day whose data is still arriving (an import): the
    // network looks silent on it.
    let full = network(10, 10, 0.1, 60..66);
    let partial: Vec<History> = network(10, 10, 0.1, 60..66)
        .into_iter()
        .map(|h| {
            let days = (0..70).map(|i| (start() + i, h.day(start() + i).clone()));
            History::from_days(days)
        })
        .collect();
    let first = assess_network(&partial, start() + 40, start() + 70, &Params::default());
    assert!(
        first.events.iter().any(|e| e.first_day == start() + 70),
        "{:?}",
        first.events
    );
    // The next run, with the day complete, gives every event starting in
    // its re-judged days: the real one again, the partial day's not.
    let next = assess_network(&full, start() + 71, start() + 99, &Params::default());
    assert!(next.rejudged_from <= start() + 60);
    let firsts: Vec<i64> = next.events.iter().map(|e| e.first_day).collect();
    assert_eq!(firsts, [start() + 60]);
}
