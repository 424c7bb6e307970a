//! The six detectors and the run over a window of days.

use serde_json::{json, Map, Value};

use crate::baseline::Baseline;
use crate::history::History;
use crate::stats::binomial_upper_tail;
use crate::{day_label, AnomalyType, Params};

/// A station anomaly: one episode of consecutive days.
#[derive(Debug, Clone, PartialEq)]
pub struct StationAnomaly {
    pub anomaly_type: AnomalyType,
    /// The connector, for connector_outage.
    pub connector_id: Option<String>,
    /// First day of the episode: the `affected_period`.
    pub first_day: i64,
    /// Last day of the episode so far.
    pub last_day: i64,
    /// The day whose data made the evidence significant.
    pub detected_on: i64,
    /// Severity in [0.5, 1]: how far from the baseline, and how sure.
    pub score: f64,
    /// `anomaly_type`, `affected_period`, `affected_days`,
    /// `last_affected_day` and the expected and actual figures.
    pub details: Value,
}

/// The result of assessing one station on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub as_of: i64,
    /// Episodes that start in the evaluated window, oldest first.
    pub anomalies: Vec<StationAnomaly>,
    /// Whether an episode is still going on on `as_of`.
    pub is_anomaly: bool,
    /// The strongest ongoing anomaly's score; otherwise below 0.5, from how
    /// close the latest day came to an anomaly.
    pub anomaly_score: f64,
    /// The strongest ongoing anomaly's details, or the latest day's
    /// expected and actual figures.
    pub detection_details: Value,
}

/// Evidence accumulated over the days of an episode.
trait Evidence: Sized {
    fn add(&mut self, day: Self);
    /// Significance relative to the threshold: 1 or more is an anomaly.
    fn strength(&self, params: &Params) -> f64;
    /// How far from the baseline, in [0, 1].
    fn magnitude(&self) -> f64;
    fn figures(&self, details: &mut Map<String, Value>);
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// Sessions that should have happened and did not (silence, outage).
struct Missing {
    expected: f64,
    others_expected: f64,
    others_actual: f64,
}

impl Evidence for Missing {
    fn add(&mut self, day: Self) {
        self.expected += day.expected;
        self.others_expected += day.others_expected;
        self.others_actual += day.others_actual;
    }
    fn strength(&self, params: &Params) -> f64 {
        // P(no session | Poisson(expected)) = e^-expected, against alpha.
        self.expected / (1.0 / params.alpha).ln()
    }
    fn magnitude(&self) -> f64 {
        1.0
    }
    fn figures(&self, d: &mut Map<String, Value>) {
        d.insert("expected_sessions".into(), json!(round(self.expected, 1)));
        d.insert("actual_sessions".into(), json!(0));
        if self.others_expected > 0.0 {
            d.insert(
                "other_connectors_expected_sessions".into(),
                json!(round(self.others_expected, 1)),
            );
            d.insert(
                "other_connectors_actual_sessions".into(),
                json!(self.others_actual),
            );
        }
    }
}

struct Energy {
    expected: f64,
    actual: f64,
    variance: f64,
}

impl Evidence for Energy {
    fn add(&mut self, day: Self) {
        self.expected += day.expected;
        self.actual += day.actual;
        self.variance += day.variance;
    }
    fn strength(&self, params: &Params) -> f64 {
        (self.expected - self.actual) / self.variance.sqrt() / params.z_min
    }
    fn magnitude(&self) -> f64 {
        (1.0 - self.actual / self.expected).clamp(0.0, 1.0)
    }
    fn figures(&self, d: &mut Map<String, Value>) {
        d.insert("expected_energy_kwh".into(), json!(round(self.expected, 1)));
        d.insert("actual_energy_kwh".into(), json!(round(self.actual, 1)));
    }
}

/// Too many sessions of one kind (zero, anomalous) among the day's sessions.
struct Share {
    kind: &'static str,
    count: u32,
    sessions: u32,
    /// Sum over days of sessions × baseline share.
    expected: f64,
}

impl Share {
    fn baseline(&self) -> f64 {
        self.expected / self.sessions.max(1) as f64
    }
}

impl Evidence for Share {
    fn add(&mut self, day: Self) {
        self.count += day.count;
        self.sessions += day.sessions;
        self.expected += day.expected;
    }
    fn strength(&self, params: &Params) -> f64 {
        let p = binomial_upper_tail(self.count, self.sessions, self.baseline()).max(1e-300);
        p.ln() / params.alpha.ln()
    }
    fn magnitude(&self) -> f64 {
        let base = self.baseline();
        let actual = self.count as f64 / self.sessions.max(1) as f64;
        ((actual - base) / (1.0 - base)).clamp(0.0, 1.0)
    }
    fn figures(&self, d: &mut Map<String, Value>) {
        let actual = self.count as f64 / self.sessions.max(1) as f64;
        d.insert(
            format!("expected_{}", self.kind),
            json!(round(self.baseline(), 3)),
        );
        d.insert(format!("actual_{}", self.kind), json!(round(actual, 3)));
        let noun = if self.kind == "zero_share" {
            "zero_sessions"
        } else {
            "anomalous_sessions"
        };
        d.insert(noun.into(), json!(self.count));
        d.insert("sessions".into(), json!(self.sessions));
    }
}

/// The sessions' plateau power against the baseline sessions': a
/// Mann-Whitney rank statistic, summed over the days of the episode. Ranks
/// make it indifferent to the mix of cars (11 vs 7.4 kW AC) that moves a
/// day's median without any fault.
struct Power {
    expected_kw: f64,
    log_ratio_sum: f64,
    days: u32,
    u: f64,
    expected_u: f64,
    variance_u: f64,
}

impl Power {
    fn day(day: &[f64], baseline: &[f64], expected_kw: f64, actual_kw: f64) -> Self {
        let (n, m) = (day.len() as f64, baseline.len() as f64);
        let u: f64 = day
            .iter()
            .map(|x| {
                let below = baseline.partition_point(|b| b < x);
                let equal = baseline.partition_point(|b| b <= x) - below;
                below as f64 + 0.5 * equal as f64
            })
            .sum();
        Power {
            expected_kw,
            log_ratio_sum: (actual_kw / expected_kw).ln(),
            days: 1,
            u,
            expected_u: n * m / 2.0,
            // Without the tie correction: ties only make it smaller.
            variance_u: n * m * (n + m + 1.0) / 12.0,
        }
    }
}

impl Evidence for Power {
    fn add(&mut self, day: Self) {
        self.log_ratio_sum += day.log_ratio_sum;
        self.days += day.days;
        self.u += day.u;
        self.expected_u += day.expected_u;
        self.variance_u += day.variance_u;
    }
    fn strength(&self, params: &Params) -> f64 {
        (self.expected_u - self.u) / self.variance_u.sqrt() / params.z_min
    }
    fn magnitude(&self) -> f64 {
        (1.0 - (self.log_ratio_sum / self.days as f64).exp()).clamp(0.0, 1.0)
    }
    fn figures(&self, d: &mut Map<String, Value>) {
        let actual = self.expected_kw * (self.log_ratio_sum / self.days as f64).exp();
        d.insert("expected_plateau_kw".into(), json!(round(self.expected_kw, 1)));
        d.insert("actual_plateau_kw".into(), json!(round(actual, 1)));
    }
}

/// An episode being scanned.
struct Run<E> {
    first_day: i64,
    last_day: i64,
    detected_on: Option<i64>,
    evidence: E,
}

/// What scanning one detector over the window found.
struct Scan<E> {
    episodes: Vec<Run<E>>,
    /// An episode still a candidate on `as_of` but not (yet) significant.
    pending: Option<Run<E>>,
}

/// Scans `from - 1 ..= as_of`: consecutive candidate days form an episode;
/// one that started before `from` was reported by an earlier window.
fn scan<E: Evidence>(
    from: i64,
    as_of: i64,
    params: &Params,
    mut evidence: impl FnMut(i64) -> Option<E>,
) -> Scan<E> {
    let mut episodes = Vec::new();
    let mut run: Option<Run<E>> = None;
    let close = |run: Run<E>, episodes: &mut Vec<Run<E>>| {
        if run.detected_on.is_some() && run.first_day >= from {
            episodes.push(run);
        }
    };
    for day in (from - 1)..=as_of {
        match (evidence(day), run.take()) {
            (Some(e), None) => {
                let mut r = Run {
                    first_day: day,
                    last_day: day,
                    detected_on: None,
                    evidence: e,
                };
                if r.evidence.strength(params) >= 1.0 {
                    r.detected_on = Some(day);
                }
                run = Some(r);
            }
            (Some(e), Some(mut r)) => {
                r.evidence.add(e);
                r.last_day = day;
                if r.detected_on.is_none() && r.evidence.strength(params) >= 1.0 {
                    r.detected_on = Some(day);
                }
                run = Some(r);
            }
            (None, Some(r)) => close(r, &mut episodes),
            (None, None) => {}
        }
    }
    let mut pending = None;
    if let Some(r) = run {
        if r.detected_on.is_none() && r.first_day >= from {
            pending = Some(r);
        } else {
            close(r, &mut episodes);
        }
    }
    Scan { episodes, pending }
}

fn anomaly<E: Evidence>(
    kind: AnomalyType,
    connector: Option<&str>,
    run: &Run<E>,
    params: &Params,
) -> StationAnomaly {
    let strength = run.evidence.strength(params);
    let score = 0.5 * (1.0 + run.evidence.magnitude() * (strength / 2.0).min(1.0));
    let mut details = Map::new();
    details.insert("anomaly_type".into(), json!(kind.as_str()));
    details.insert("affected_period".into(), json!(day_label(run.first_day)));
    details.insert("affected_days".into(), json!(run.last_day - run.first_day + 1));
    details.insert("last_affected_day".into(), json!(day_label(run.last_day)));
    if let Some(c) = connector {
        details.insert("connector_id".into(), json!(c));
    }
    run.evidence.figures(&mut details);
    StationAnomaly {
        anomaly_type: kind,
        connector_id: connector.map(str::to_owned),
        first_day: run.first_day,
        last_day: run.last_day,
        detected_on: run.detected_on.unwrap_or(run.last_day),
        score: round(score, 4),
        details: Value::Object(details),
    }
}

/// Collects one detector's episodes, and how close a pending one came.
fn collect<E: Evidence>(
    kind: AnomalyType,
    connector: Option<&str>,
    scan: Scan<E>,
    params: &Params,
    out: &mut Vec<StationAnomaly>,
    closeness: &mut f64,
) {
    for run in &scan.episodes {
        out.push(anomaly(kind, connector, run, params));
    }
    if let Some(run) = &scan.pending {
        let near = (run.evidence.strength(params) * run.evidence.magnitude()).clamp(0.0, 0.99);
        *closeness = closeness.max(near);
    }
}

/// Assesses a station on day `as_of` (the latest complete day with data):
/// the anomalies whose episodes start in the `params.window_days` ending
/// there, and the verdict for `as_of`. Days after `as_of` are ignored.
pub fn assess(history: &History, as_of: i64, params: &Params) -> Assessment {
    let from = as_of - params.window_days + 1;
    let baselines: Vec<Option<Baseline>> = ((from - 1)..=as_of)
        .map(|d| Baseline::of(history, d, params))
        .collect();
    let baseline = |d: i64| baselines[(d - from + 1) as usize].as_ref();
    let mut anomalies = Vec::new();
    let mut closeness: f64 = 0.0;

    let silent = |d: i64| -> Option<Missing> {
        let b = baseline(d)?;
        (history.day(d).sessions == 0 && b.expected_sessions >= params.silent_min_expected_sessions)
            .then_some(Missing {
                expected: b.expected_sessions,
                others_expected: 0.0,
                others_actual: 0.0,
            })
    };
    collect(
        AnomalyType::StationSilent,
        None,
        scan(from, as_of, params, silent),
        params,
        &mut anomalies,
        &mut closeness,
    );

    let energy = |d: i64| -> Option<Energy> {
        let b = baseline(d)?;
        let day = history.day(d);
        // A day without sessions is silence, judged above.
        (day.sessions > 0
            && b.expected_energy_kwh >= params.min_expected_energy_kwh
            && day.energy_kwh < params.energy_drop_ratio * b.expected_energy_kwh)
            .then(|| Energy {
                expected: b.expected_energy_kwh,
                actual: day.energy_kwh,
                variance: (b.energy_cv * b.expected_energy_kwh).powi(2),
            })
    };
    collect(
        AnomalyType::EnergyDrop,
        None,
        scan(from, as_of, params, energy),
        params,
        &mut anomalies,
        &mut closeness,
    );

    let mut connectors: Vec<String> = baselines
        .iter()
        .flatten()
        .flat_map(|b| b.connector_sessions.keys().cloned())
        .collect();
    connectors.sort();
    connectors.dedup();
    for connector in connectors.iter().filter(|c| !c.is_empty()) {
        let outage = |d: i64| -> Option<Missing> {
            let b = baseline(d)?;
            let expected = *b.connector_sessions.get(connector)?;
            let day = history.day(d);
            let others_expected: f64 = b
                .connector_sessions
                .iter()
                .filter(|(c, _)| *c != connector)
                .map(|(_, n)| n)
                .sum();
            let others_actual = day
                .connector_sessions
                .iter()
                .filter(|(c, _)| *c != connector)
                .map(|(_, n)| *n as f64)
                .sum::<f64>();
            (expected >= params.outage_min_expected_sessions
                && day.connector_sessions.get(connector).copied().unwrap_or(0) == 0
                && others_expected > 0.0
                && others_actual >= params.outage_others_ratio * others_expected)
                .then_some(Missing {
                    expected,
                    others_expected,
                    others_actual,
                })
        };
        collect(
            AnomalyType::ConnectorOutage,
            Some(connector),
            scan(from, as_of, params, outage),
            params,
            &mut anomalies,
            &mut closeness,
        );
    }

    let share = |kind: &'static str, count: u32, sessions: u32, base: f64| -> Option<Share> {
        let actual = count as f64 / sessions.max(1) as f64;
        (sessions > 0
            && count >= params.share_min_sessions
            && actual >= params.share_min
            && actual >= params.share_ratio * base)
            .then_some(Share {
                kind,
                count,
                sessions,
                expected: base * sessions as f64,
            })
    };
    let zero = |d: i64| {
        let b = baseline(d)?;
        let day = history.day(d);
        share("zero_share", day.zero_sessions, day.sessions, b.zero_share)
    };
    collect(
        AnomalyType::ZeroSessionSurge,
        None,
        scan(from, as_of, params, zero),
        params,
        &mut anomalies,
        &mut closeness,
    );
    // Zero sessions are anomalous too; zero_session_surge covers them.
    let anomalous = |d: i64| {
        let b = baseline(d)?;
        let day = history.day(d);
        let count = day.anomalous_sessions.saturating_sub(day.zero_sessions);
        share("anomaly_rate", count, day.sessions, b.anomalous_share)
    };
    collect(
        AnomalyType::AnomalyRateSpike,
        None,
        scan(from, as_of, params, anomalous),
        params,
        &mut anomalies,
        &mut closeness,
    );

    let power = |d: i64| -> Option<Power> {
        let b = baseline(d)?;
        let expected = b.plateau_kw?;
        let day = history.day(d);
        let actual = day.median_plateau_kw()?;
        (day.plateaus_kw.len() >= params.power_min_sessions as usize
            && actual > 0.0
            && actual < params.power_drop_ratio * expected)
            .then(|| Power::day(&day.plateaus_kw, &b.plateaus_kw, expected, actual))
    };
    collect(
        AnomalyType::PowerDegradation,
        None,
        scan(from, as_of, params, power),
        params,
        &mut anomalies,
        &mut closeness,
    );

    anomalies.sort_by(|a, b| {
        (a.first_day, a.anomaly_type, &a.connector_id).cmp(&(b.first_day, b.anomaly_type, &b.connector_id))
    });
    let strongest = anomalies
        .iter()
        .filter(|a| a.last_day == as_of)
        .max_by(|a, b| a.score.total_cmp(&b.score));
    let (is_anomaly, anomaly_score, detection_details) = match strongest {
        Some(a) => (true, a.score, a.details.clone()),
        None => (
            false,
            round(0.5 * closeness, 4),
            healthy_details(history, as_of, baseline(as_of)),
        ),
    };
    Assessment {
        as_of,
        anomalies,
        is_anomaly,
        anomaly_score,
        detection_details,
    }
}

/// What a healthy verdict rests on: the latest day against its baseline.
fn healthy_details(history: &History, as_of: i64, baseline: Option<&Baseline>) -> Value {
    let day = history.day(as_of);
    let mut details = Map::new();
    details.insert("anomaly_type".into(), Value::Null);
    details.insert("affected_period".into(), json!(day_label(as_of)));
    match baseline {
        Some(b) => {
            details.insert(
                "expected_energy_kwh".into(),
                json!(round(b.expected_energy_kwh, 1)),
            );
            details.insert("actual_energy_kwh".into(), json!(round(day.energy_kwh, 1)));
            details.insert("expected_sessions".into(), json!(round(b.expected_sessions, 1)));
            details.insert("actual_sessions".into(), json!(day.sessions));
        }
        None => {
            details.insert(
                "note".into(),
                json!("not enough history yet: the station is judged after 14 days of sessions"),
            );
            details.insert("actual_energy_kwh".into(), json!(round(day.energy_kwh, 1)));
            details.insert("actual_sessions".into(), json!(day.sessions));
        }
    }
    Value::Object(details)
}
