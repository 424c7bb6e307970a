//! The six detectors and the run over a window of days.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use crate::baseline::{Baseline, CountRate, Skip};
use crate::history::History;
use crate::stats::count_upper_tail;
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
    /// Each day's expectation from `from` to `as_of`, as judged: weekday
    /// adjusted, with silent days left out of the baselines.
    pub expected: Vec<DayExpectation>,
}

/// What SHADE expected of a station on one day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayExpectation {
    pub day: i64,
    /// Delivering sessions (aborted starts are not sessions for the rate);
    /// `None` while the station has too little history.
    pub sessions: Option<f64>,
    pub energy_kwh: Option<f64>,
}

/// Evidence accumulated over the days of an episode.
pub(crate) trait Evidence: Sized {
    fn add(&mut self, day: Self);
    /// Significance relative to the threshold: 1 or more is an anomaly.
    fn strength(&self, params: &Params) -> f64;
    /// How far from the baseline, in [0, 1].
    fn magnitude(&self) -> f64;
    fn figures(&self, details: &mut Map<String, Value>);
}

pub(crate) fn round(value: f64, digits: i32) -> f64 {
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

/// Too many sessions of one kind (zero, anomalous): their count over the
/// episode's days against the station's own rate of them, as a clumped
/// count (a driver retrying a failed start makes several zero sessions of
/// one event), so a burst of retries is one surprise, not many.
struct Count {
    kind: &'static str,
    count: u32,
    sessions: u32,
    /// Sum over the days of the expected count.
    expected: f64,
    /// The largest dispersion of the days.
    dispersion: f64,
    /// The baseline share, for the details.
    share: f64,
}

impl Evidence for Count {
    fn add(&mut self, day: Self) {
        self.count += day.count;
        self.sessions += day.sessions;
        self.expected += day.expected;
        self.dispersion = self.dispersion.max(day.dispersion);
    }
    fn strength(&self, params: &Params) -> f64 {
        let p = count_upper_tail(self.count, self.expected, self.dispersion).max(1e-300);
        let strength = p.ln() / params.alpha.ln();
        if self.count < params.count_min_events {
            strength.min(0.99)
        } else {
            strength
        }
    }
    fn magnitude(&self) -> f64 {
        (1.0 - self.expected / self.count.max(1) as f64).clamp(0.0, 1.0)
    }
    fn figures(&self, d: &mut Map<String, Value>) {
        // The baseline's share of such sessions among all, for context.
        d.insert(format!("expected_{}", self.kind), json!(round(self.share, 3)));
        let noun = if self.kind == "zero_share" {
            "zero_session_events"
        } else {
            "anomalous_sessions"
        };
        d.insert(format!("expected_{noun}"), json!(round(self.expected, 2)));
        d.insert(noun.into(), json!(self.count));
        d.insert("sessions".into(), json!(self.sessions));
        d.insert("count_dispersion".into(), json!(round(self.dispersion, 2)));
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
pub(crate) struct Run<E> {
    pub first_day: i64,
    pub last_day: i64,
    pub detected_on: Option<i64>,
    pub evidence: E,
}

/// What scanning one detector found.
pub(crate) struct Scan<E> {
    /// Significant episodes, the last one possibly still going on.
    pub episodes: Vec<Run<E>>,
    /// An episode still a candidate on `as_of` but not (yet) significant.
    pub pending: Option<Run<E>>,
}

/// Scans `start..=as_of` in order: consecutive candidate days form an
/// episode, significant once its evidence is. `evidence(day, anchor, skip)`
/// judges a day against the baseline before `anchor`: the day itself, or
/// the episode's first day while one goes on, so an episode is judged
/// against what the station did before it. The days of significant
/// episodes join `skip` and stay out of later baselines.
pub(crate) fn scan<E: Evidence>(
    start: i64,
    as_of: i64,
    params: &Params,
    skip: &mut Skip,
    mut evidence: impl FnMut(i64, i64, &Skip) -> Option<E>,
) -> Scan<E> {
    let mut episodes = Vec::new();
    let mut run: Option<Run<E>> = None;
    for day in start..=as_of {
        let anchor = run.as_ref().map_or(day, |r| r.first_day);
        match (evidence(day, anchor, skip), run.take()) {
            (Some(e), previous) => {
                let mut r = match previous {
                    Some(mut r) => {
                        r.evidence.add(e);
                        r.last_day = day;
                        r
                    }
                    None => Run {
                        first_day: day,
                        last_day: day,
                        detected_on: None,
                        evidence: e,
                    },
                };
                if r.detected_on.is_none() && r.evidence.strength(params) >= 1.0 {
                    r.detected_on = Some(day);
                    skip.extend(r.first_day..day);
                }
                if r.detected_on.is_some() {
                    skip.insert(day);
                }
                run = Some(r);
            }
            (None, Some(r)) if r.detected_on.is_some() => episodes.push(r),
            (None, _) => {}
        }
    }
    let mut pending = None;
    if let Some(r) = run {
        if r.detected_on.is_some() {
            episodes.push(r);
        } else {
            pending = Some(r);
        }
    }
    Scan { episodes, pending }
}

fn anomaly<E: Evidence>(
    kind: AnomalyType,
    connector: Option<&str>,
    run: &Run<E>,
    as_of: i64,
    params: &Params,
) -> StationAnomaly {
    let (score, mut details) = episode_details(("anomaly_type", kind.as_str()), run, as_of, params);
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
        score,
        details: Value::Object(details),
    }
}

/// An episode's score in [0.5, 1] (how far from the baseline, and how
/// sure) and its details: `(key, kind)` first, then its days and status.
pub(crate) fn episode_details<E: Evidence>(
    (key, kind): (&str, &str),
    run: &Run<E>,
    as_of: i64,
    params: &Params,
) -> (f64, Map<String, Value>) {
    let strength = run.evidence.strength(params);
    let score = 0.5 * (1.0 + run.evidence.magnitude() * (strength / 2.0).min(1.0));
    let mut details = Map::new();
    details.insert(key.into(), json!(kind));
    details.insert("affected_period".into(), json!(day_label(run.first_day)));
    details.insert("affected_days".into(), json!(run.last_day - run.first_day + 1));
    details.insert("last_affected_day".into(), json!(day_label(run.last_day)));
    if let Some(day) = run.detected_on {
        details.insert("detected_on".into(), json!(day_label(day)));
    }
    if run.last_day < as_of {
        details.insert("status".into(), json!("resolved"));
        details.insert("resolved_on".into(), json!(day_label(run.last_day + 1)));
    } else {
        details.insert("status".into(), json!("ongoing"));
    }
    (round(score, 4), details)
}

/// What the detectors report: episodes still going on at `from - 1` or
/// later (a resolve is seen by the run after the last ongoing day), and how
/// close a pending one came.
struct Collector<'a> {
    from: i64,
    as_of: i64,
    params: &'a Params,
    out: Vec<StationAnomaly>,
    closeness: f64,
}

impl Collector<'_> {
    fn collect<E: Evidence>(&mut self, kind: AnomalyType, connector: Option<&str>, scan: Scan<E>) {
        for run in scan.episodes.iter().filter(|r| r.last_day >= self.from - 1) {
            self.out
                .push(anomaly(kind, connector, run, self.as_of, self.params));
        }
        if let Some(run) = &scan.pending {
            let near = (run.evidence.strength(self.params) * run.evidence.magnitude()).clamp(0.0, 0.99);
            self.closeness = self.closeness.max(near);
        }
    }
}

/// Assesses a station on day `as_of` (the latest complete day with data):
/// the anomalies going on in the `params.window_days` ending there, and the
/// verdict for `as_of`. Days after `as_of` are ignored.
pub fn assess(history: &History, as_of: i64, params: &Params) -> Assessment {
    assess_since(history, as_of - params.window_days + 1, as_of, params)
}

/// Assesses a station over the days `from..=as_of`: every episode going on
/// in them (also one that started earlier, so a resolve is reported), and
/// the verdict for `as_of`. The days scanned start `params.lookback_days`
/// before `from`, so an episode and the days left out of baselines do not
/// depend on where a run starts.
pub fn assess_since(history: &History, from: i64, as_of: i64, params: &Params) -> Assessment {
    let start = history
        .first_day()
        .unwrap_or(from)
        .max(from - params.lookback_days)
        .min(from);
    let baseline = |d: i64, anchor: i64, skip: &Skip| Baseline::of(history, d, anchor, skip, params);
    let mut found = Collector {
        from,
        as_of,
        params,
        out: Vec::new(),
        closeness: 0.0,
    };

    // Silence first: its days stay out of every detector's baselines, as
    // do the days the whole network fell.
    let mut silent_days: Skip = history.moved_days().collect();
    let silent = |d: i64, anchor: i64, skip: &Skip| -> Option<Missing> {
        let b = baseline(d, anchor, skip)?;
        (history.day(d).delivering() == 0 && b.expected_sessions > 0.0).then_some(Missing {
            expected: b.expected_sessions,
            others_expected: 0.0,
            others_actual: 0.0,
        })
    };
    let scanned = scan(start, as_of, params, &mut silent_days, silent);
    found.collect(AnomalyType::StationSilent, None, scanned);

    // The other detectors mostly ask for a day's own baseline without
    // silence: computed once for all of them.
    let own: Vec<Option<Baseline>> = (start..=as_of)
        .map(|d| Baseline::of(history, d, d, &silent_days, params))
        .collect();
    let baseline = |d: i64, anchor: i64, skip: &Skip| -> Option<Cow<'_, Baseline>> {
        // A detector's skip only grows from the silent days: same size, same days.
        if anchor == d && skip.len() == silent_days.len() {
            own[(d - start) as usize].as_ref().map(Cow::Borrowed)
        } else {
            Baseline::of(history, d, anchor, skip, params).map(Cow::Owned)
        }
    };

    let energy = |d: i64, anchor: i64, skip: &Skip| -> Option<Energy> {
        let b = baseline(d, anchor, skip)?;
        let day = history.day(d);
        // A day without sessions is silence, judged above.
        (day.delivering() > 0
            && b.expected_energy_kwh > 0.0
            && day.energy_kwh < params.energy_drop_ratio * b.expected_energy_kwh)
            .then(|| Energy {
                expected: b.expected_energy_kwh,
                actual: day.energy_kwh,
                variance: (b.energy_cv * b.expected_energy_kwh).powi(2),
            })
    };
    let scanned = scan(start, as_of, params, &mut silent_days.clone(), energy);
    found.collect(AnomalyType::EnergyDrop, None, scanned);

    let mut connectors: Vec<String> = (start..=as_of)
        .flat_map(|d| history.day(d).connector_sessions.keys().cloned())
        .collect();
    connectors.sort();
    connectors.dedup();
    for connector in connectors.iter().filter(|c| !c.is_empty()) {
        let outage = |d: i64, anchor: i64, skip: &Skip| -> Option<Missing> {
            let b = baseline(d, anchor, skip)?;
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
        let scanned = scan(start, as_of, params, &mut silent_days.clone(), outage);
        found.collect(AnomalyType::ConnectorOutage, Some(connector), scanned);
    }

    // A day is a candidate with at least `share_min_sessions` such
    // sessions (zero: events), `share_min` of its sessions, and
    // `share_ratio` times the expected count; the episode's count is judged
    // against the expected one as a (possibly clumped) count.
    let count =
        |kind: &'static str, count: u32, sessions: u32, share: f64, rate: CountRate| -> Option<Count> {
            (sessions > 0
                && count >= params.share_min_sessions
                && count as f64 >= params.share_min * sessions as f64
                && count as f64 >= params.share_ratio * rate.expected)
                .then_some(Count {
                    kind,
                    count,
                    sessions,
                    expected: rate.expected,
                    dispersion: rate.dispersion,
                    share,
                })
        };
    let zero = |d: i64, anchor: i64, skip: &Skip| {
        let b = baseline(d, anchor, skip)?;
        let day = history.day(d);
        let share = day.zero_sessions as f64 / day.sessions.max(1) as f64;
        (share >= params.share_min)
            .then(|| {
                count(
                    "zero_share",
                    day.zero_events(),
                    day.sessions,
                    b.zero_share,
                    b.zero,
                )
            })
            .flatten()
    };
    let scanned = scan(start, as_of, params, &mut silent_days.clone(), zero);
    found.collect(AnomalyType::ZeroSessionSurge, None, scanned);
    // Zero sessions are anomalous too; zero_session_surge covers them.
    let anomalous = |d: i64, anchor: i64, skip: &Skip| {
        let b = baseline(d, anchor, skip)?;
        let day = history.day(d);
        let n = day.anomalous_sessions.saturating_sub(day.zero_sessions);
        count("anomaly_rate", n, day.sessions, b.anomalous_share, b.anomalous)
    };
    let scanned = scan(start, as_of, params, &mut silent_days.clone(), anomalous);
    found.collect(AnomalyType::AnomalyRateSpike, None, scanned);

    let power = |d: i64, anchor: i64, skip: &Skip| -> Option<Power> {
        let b = baseline(d, anchor, skip)?;
        let expected = b.plateau_kw?;
        let day = history.day(d);
        let actual = day.median_plateau_kw()?;
        (day.plateaus_kw.len() >= params.power_min_sessions as usize
            && actual > 0.0
            && actual < params.power_drop_ratio * expected)
            .then(|| Power::day(&day.plateaus_kw, &b.plateaus_kw, expected, actual))
    };
    let scanned = scan(start, as_of, params, &mut silent_days.clone(), power);
    found.collect(AnomalyType::PowerDegradation, None, scanned);

    let Collector {
        out: mut anomalies,
        closeness,
        ..
    } = found;
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
            healthy_details(history, as_of, baseline(as_of, as_of, &silent_days).as_deref()),
        ),
    };
    let expected = (from.max(start)..=as_of)
        .map(|d| {
            let b = own[(d - start) as usize].as_ref();
            DayExpectation {
                day: d,
                sessions: b.map(|b| b.expected_sessions),
                energy_kwh: b.map(|b| b.expected_energy_kwh),
            }
        })
        .collect();
    Assessment {
        as_of,
        anomalies,
        is_anomaly,
        anomaly_score,
        detection_details,
        expected,
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
