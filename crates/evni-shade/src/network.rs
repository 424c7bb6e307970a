//! Network events: when a large share of a tenant's stations fall together
//! (a lockdown, a payment back end down, a snowstorm), that is one event of
//! the network, not a fault at each station; and each station is then
//! judged only against what the others did not do.
//!
//! The network is judged as one station whose days are the sums of its
//! stations' (delivering sessions against a weekday-aware baseline), and a
//! drop must also be broad: most of the stations with enough expected
//! sessions fell. On the days of an event (or of a drop still going on),
//! each station gets the others' movement (their sessions over their
//! expectation): its [`History::with_common_movement`].

use serde_json::{json, Map, Value};

use crate::baseline::{Baseline, Skip};
use crate::detect::{episode_details, round, scan, Evidence};
use crate::history::History;
use crate::{day_label, Params};

/// The kind of a network event, as reported.
pub const NETWORK_DROP: &str = "network_drop";

/// A network event: one episode of consecutive days.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkEvent {
    pub first_day: i64,
    pub last_day: i64,
    pub detected_on: i64,
    /// In [0.5, 1], as a station anomaly's.
    pub score: f64,
    /// `event_type`, `affected_period`, `affected_days`,
    /// `last_affected_day`, `status`, and the expected and actual figures.
    pub details: Value,
}

/// One station's movement on a day the network fell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommonMovement {
    /// Index of the station in the slice given to [`assess_network`].
    pub station: usize,
    pub day: i64,
    /// The other stations' sessions over their expectation, in
    /// [`Params::network_min_factor`, 1].
    pub factor: f64,
}

/// The result of assessing a tenant's network over a range of days.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkAssessment {
    pub as_of: i64,
    /// Events going on in the range (also one that started earlier), and
    /// every event starting on `rejudged_from` or later, oldest first.
    pub events: Vec<NetworkEvent>,
    /// Whether an event is going on on `as_of`.
    pub is_drop: bool,
    /// The ongoing event's details, or the latest day's figures.
    pub details: Value,
    /// Each station's common movement on the days `rejudged_from..=as_of`
    /// that belong to an event, or to a drop still going on at `as_of` that
    /// may become one.
    pub movements: Vec<CommonMovement>,
    /// `from - params.window_days`: the events starting and the movements
    /// on these days are given again (the previous run's last days may
    /// have been judged on data still arriving).
    pub rejudged_from: i64,
}

/// The network's deficit over an episode, and how broad it is.
struct Drop {
    expected: f64,
    actual: f64,
    variance: f64,
    /// Expected and actual sessions of each station with a baseline.
    stations: Vec<Option<(f64, f64)>>,
    /// [`Params::network_station_min_expected`] and [`Params::network_drop_ratio`].
    station_min_expected: f64,
    drop_ratio: f64,
}

impl Drop {
    /// Stations expecting enough sessions to tell, and those that fell.
    fn breadth(&self) -> (usize, usize) {
        let judged: Vec<(f64, f64)> = self
            .stations
            .iter()
            .flatten()
            .copied()
            .filter(|(e, _)| *e >= self.station_min_expected)
            .collect();
        let fell = judged.iter().filter(|(e, a)| *a < self.drop_ratio * e).count();
        (judged.len(), fell)
    }
}

impl Evidence for Drop {
    fn add(&mut self, day: Self) {
        self.expected += day.expected;
        self.actual += day.actual;
        self.variance += day.variance;
        for (sum, more) in self.stations.iter_mut().zip(day.stations) {
            *sum = match (*sum, more) {
                (Some((e, a)), Some((e2, a2))) => Some((e + e2, a + a2)),
                (s, None) => s,
                (None, m) => m,
            };
        }
    }
    /// The deficit's significance, held back until the drop is broad.
    fn strength(&self, params: &Params) -> f64 {
        let deficit = (self.expected - self.actual) / self.variance.sqrt() / params.z_min;
        let (judged, fell) = self.breadth();
        let needed = (params.network_min_share * judged as f64)
            .ceil()
            .max(params.network_min_stations as f64);
        deficit.min(fell as f64 / needed)
    }
    fn magnitude(&self) -> f64 {
        (1.0 - self.actual / self.expected).clamp(0.0, 1.0)
    }
    fn figures(&self, d: &mut Map<String, Value>) {
        let (judged, fell) = self.breadth();
        d.insert("expected_sessions".into(), json!(round(self.expected, 1)));
        d.insert("actual_sessions".into(), json!(self.actual.round() as u64));
        d.insert("stations_judged".into(), json!(judged));
        d.insert("stations_fallen".into(), json!(fell));
    }
}

/// Assesses a tenant's network over `from..=as_of`, each station's
/// history as [`crate::assess_since`] reads it (without common movement).
/// Days are scanned from `params.lookback_days` before `from`, as a
/// station's are, so the result does not depend on where a run starts.
pub fn assess_network(stations: &[History], from: i64, as_of: i64, params: &Params) -> NetworkAssessment {
    let network = History::network(stations);
    let start = network
        .first_day()
        .unwrap_or(from)
        .max(from - params.lookback_days)
        .min(from);
    let mut movements = Vec::new();
    // The previous run's last days may have been judged on data still
    // arriving (an import), and a drop going on at its end may have come
    // to nothing: the events and movements of these days are given again.
    let rejudged_from = from - params.window_days;
    let mut skip = Skip::new();
    let drop = |d: i64, anchor: i64, skip: &Skip| -> Option<Drop> {
        let b = Baseline::of(&network, d, anchor, skip, params)?;
        let expected = b.expected_sessions;
        let actual = network.day(d).delivering() as f64;
        if expected < params.network_min_expected_sessions || actual >= params.network_drop_ratio * expected {
            return None;
        }
        let each: Vec<Option<(f64, f64)>> = stations
            .iter()
            .map(|h| {
                let b = Baseline::of(h, d, anchor, skip, params)?;
                Some((b.expected_sessions, h.day(d).delivering() as f64))
            })
            .collect();
        if d >= rejudged_from {
            movements.extend(common_movements(d, &each, params));
        }
        Some(Drop {
            expected,
            actual,
            // Poisson, and the network's own day-to-day spread (weather, holidays).
            variance: expected + (b.sessions_cv * expected).powi(2),
            stations: each,
            station_min_expected: params.network_station_min_expected,
            drop_ratio: params.network_drop_ratio,
        })
    };
    let scanned = scan(start, as_of, params, &mut skip, drop);
    // Stations are judged against the network on the days of its events,
    // and of a drop that may become one (the latest days): not on every
    // day a small network happens to fall below half.
    let spans: Vec<(i64, i64)> = scanned
        .episodes
        .iter()
        .chain(&scanned.pending)
        .map(|run| (run.first_day, run.last_day))
        .collect();
    movements.retain(|m| {
        spans
            .iter()
            .any(|(first, last)| (*first..=*last).contains(&m.day))
    });
    let events: Vec<NetworkEvent> = scanned
        .episodes
        .iter()
        .filter(|run| run.last_day >= from - 1 || run.first_day >= rejudged_from)
        .map(|run| {
            let (score, mut details) = episode_details(("event_type", NETWORK_DROP), run, as_of, params);
            run.evidence.figures(&mut details);
            NetworkEvent {
                first_day: run.first_day,
                last_day: run.last_day,
                detected_on: run.detected_on.unwrap_or(run.last_day),
                score,
                details: Value::Object(details),
            }
        })
        .collect();
    let ongoing = events.iter().find(|e| e.last_day == as_of);
    let details = match ongoing {
        Some(e) => e.details.clone(),
        None => latest_day(&network, as_of, &skip, params),
    };
    NetworkAssessment {
        as_of,
        is_drop: ongoing.is_some(),
        events,
        details,
        movements,
        rejudged_from,
    }
}

/// Each station's view of a day the network fell: the other stations'
/// sessions over their expectation (the station itself left out, so a
/// big station's own silence is not taken for the network's).
fn common_movements(day: i64, each: &[Option<(f64, f64)>], params: &Params) -> Vec<CommonMovement> {
    let judged: Vec<(usize, (f64, f64))> = each
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|s| (i, s)))
        .collect();
    if judged.len() < params.network_min_stations {
        return Vec::new();
    }
    let expected: f64 = judged.iter().map(|(_, (e, _))| e).sum();
    let actual: f64 = judged.iter().map(|(_, (_, a))| a).sum();
    judged
        .iter()
        .filter_map(|&(station, (e, a))| {
            let others = expected - e;
            (others > 0.0).then(|| CommonMovement {
                station,
                day,
                factor: ((actual - a) / others).clamp(params.network_min_factor, 1.0),
            })
        })
        .collect()
}

/// What a healthy network verdict rests on: the latest day.
fn latest_day(network: &History, as_of: i64, skip: &Skip, params: &Params) -> Value {
    let mut d = Map::new();
    d.insert("event_type".into(), Value::Null);
    d.insert("affected_period".into(), json!(day_label(as_of)));
    if let Some(b) = Baseline::of(network, as_of, as_of, skip, params) {
        d.insert("expected_sessions".into(), json!(round(b.expected_sessions, 1)));
    }
    d.insert("actual_sessions".into(), json!(network.day(as_of).delivering()));
    Value::Object(d)
}
