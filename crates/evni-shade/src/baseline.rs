//! What a station usually does on a given day: its own recent weeks,
//! adjusted to the weekday.

use std::collections::BTreeMap;

use crate::history::History;
use crate::stats::{median_sorted, robust_sd, trimmed_mean};
use crate::Params;

/// The expectation for one day, from the days before it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Baseline {
    pub expected_sessions: f64,
    pub expected_energy_kwh: f64,
    /// Relative day-to-day spread of energy around its expectation.
    pub energy_cv: f64,
    /// Expected sessions per connector that had sessions in the baseline.
    pub connector_sessions: BTreeMap<String, f64>,
    /// Usual share of zero sessions.
    pub zero_share: f64,
    /// Usual share of anomalous sessions that are not zero sessions.
    pub anomalous_share: f64,
    /// Plateau power of every baseline session (kW), sorted, and its median.
    pub plateaus_kw: Vec<f64>,
    pub plateau_kw: Option<f64>,
}

/// A level (trimmed mean over the baseline days) and the weekday factor,
/// shrunk towards 1 so that four same-weekday values cannot swing it far.
fn weekday_level(values: &[(i64, f64)], day: i64, shrink_weeks: f64) -> (f64, f64) {
    let all: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
    let level = trimmed_mean(&all).unwrap_or(0.0);
    if level <= 0.0 {
        return (0.0, 1.0);
    }
    let same: Vec<f64> = values
        .iter()
        .filter(|(d, _)| (day - d).rem_euclid(7) == 0)
        .map(|(_, v)| *v)
        .collect();
    let factor =
        (same.iter().sum::<f64>() + shrink_weeks * level) / ((same.len() as f64 + shrink_weeks) * level);
    (level, factor)
}

impl Baseline {
    /// The baseline of `day`, or `None` while the station has too little
    /// history before it.
    pub(crate) fn of(history: &History, day: i64, params: &Params) -> Option<Baseline> {
        let first = history.first_day()?;
        let from = first.max(day - params.baseline_days);
        if day - from < params.min_history_days {
            return None;
        }
        let days: Vec<i64> = (from..day).collect();
        let series =
            |f: &dyn Fn(i64) -> f64| -> Vec<(i64, f64)> { days.iter().map(|&d| (d, f(d))).collect() };

        let sessions = series(&|d| history.day(d).sessions as f64);
        let (session_level, session_factor) = weekday_level(&sessions, day, params.weekday_shrink_weeks);
        let energy = series(&|d| history.day(d).energy_kwh);
        let (energy_level, energy_factor) = weekday_level(&energy, day, params.weekday_shrink_weeks);
        // Spread of each baseline day around its own weekday expectation.
        let ratios: Vec<f64> = energy
            .iter()
            .filter_map(|(d, v)| {
                let (_, factor) = weekday_level(&energy, *d, params.weekday_shrink_weeks);
                let expected = energy_level * factor;
                (expected > 0.0).then(|| v / expected)
            })
            .collect();
        let expected_sessions = session_level * session_factor;
        let compound = ((1.0 + params.session_energy_cv.powi(2)) / expected_sessions.max(1.0)).sqrt();
        let energy_cv = robust_sd(&ratios)
            .unwrap_or(1.0)
            .max(compound)
            .max(params.min_energy_cv);

        let mut connector_totals: BTreeMap<String, f64> = BTreeMap::new();
        for &d in &days {
            for (connector, n) in &history.day(d).connector_sessions {
                *connector_totals.entry(connector.clone()).or_default() += *n as f64;
            }
        }
        let connector_sessions = connector_totals
            .into_iter()
            .map(|(c, total)| (c, total / days.len() as f64 * session_factor))
            .collect();

        let (mut n, mut zero, mut anomalous) = (0.0, 0.0, 0.0);
        for &d in &days {
            let a = history.day(d);
            n += a.sessions as f64;
            zero += a.zero_sessions as f64;
            anomalous += a.anomalous_sessions.saturating_sub(a.zero_sessions) as f64;
        }
        let prior = params.share_prior_sessions;
        let zero_share = (zero + prior * params.zero_prior_share) / (n + prior);
        let anomalous_share = (anomalous + prior * params.anomalous_prior_share) / (n + prior);

        let mut plateaus_kw: Vec<f64> = days
            .iter()
            .flat_map(|&d| history.day(d).plateaus_kw.iter().copied())
            .collect();
        plateaus_kw.sort_by(f64::total_cmp);
        let plateau_kw = (plateaus_kw.len() >= params.power_min_baseline_sessions)
            .then(|| median_sorted(&plateaus_kw))
            .flatten();

        Some(Baseline {
            expected_sessions,
            expected_energy_kwh: energy_level * energy_factor,
            energy_cv,
            connector_sessions,
            zero_share,
            anomalous_share,
            plateaus_kw,
            plateau_kw,
        })
    }
}
