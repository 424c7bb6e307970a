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
    /// Relative day-to-day spread of delivering sessions around theirs.
    pub sessions_cv: f64,
    /// Expected sessions per connector that had sessions in the baseline.
    pub connector_sessions: BTreeMap<String, f64>,
    /// Usual share of zero sessions.
    pub zero_share: f64,
    /// Usual share of anomalous sessions that are not zero sessions.
    pub anomalous_share: f64,
    /// Expected zero-session events (retries of one driver are one) and
    /// other anomalous sessions on the day, and how
    /// clumped they come (variance over mean of a day's count).
    pub zero: CountRate,
    pub anomalous: CountRate,
    /// Plateau power of every baseline session (kW), sorted, and its median.
    pub plateaus_kw: Vec<f64>,
    pub plateau_kw: Option<f64>,
}

/// The expectation of a day's count of some kind of session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CountRate {
    pub expected: f64,
    pub dispersion: f64,
}

/// The clumping of daily counts: their variance over their mean in the
/// baseline, shrunk towards the prior (`Params::count_dispersion_prior`),
/// at least 1 (Poisson).
fn dispersion(counts: &[f64], params: &Params) -> f64 {
    let n = counts.len() as f64;
    let mean = counts.iter().sum::<f64>() / n.max(1.0);
    let prior = params.count_dispersion_prior;
    let weight = params.count_dispersion_prior_days;
    if n < 2.0 || mean <= 0.0 {
        return prior.max(1.0);
    }
    let variance = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1.0);
    ((n * variance / mean + weight * prior) / (n + weight)).max(1.0)
}

/// A level (trimmed mean over the baseline days) and the factor of each
/// weekday (indexed by `day.rem_euclid(7)`), shrunk towards 1 so that four
/// same-weekday values cannot swing it far.
fn weekday_levels(values: &[(i64, f64)], shrink_weeks: f64) -> (f64, [f64; 7]) {
    let all: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
    let level = trimmed_mean(&all).unwrap_or(0.0);
    let mut factors = [1.0; 7];
    if level <= 0.0 {
        return (0.0, factors);
    }
    let (mut sums, mut counts) = ([0.0; 7], [0.0; 7]);
    for (d, v) in values {
        let w = d.rem_euclid(7) as usize;
        sums[w] += v;
        counts[w] += 1.0;
    }
    for w in 0..7 {
        factors[w] = (sums[w] + shrink_weeks * level) / ((counts[w] + shrink_weeks) * level);
    }
    (level, factors)
}

/// The robust spread of each day's value around its weekday expectation,
/// relative to it.
fn relative_spread(values: &[(i64, f64)], level: f64, factors: &[f64; 7]) -> Option<f64> {
    let ratios: Vec<f64> = values
        .iter()
        .filter_map(|(d, v)| {
            let expected = level * factors[d.rem_euclid(7) as usize];
            (expected > 0.0).then(|| v / expected)
        })
        .collect();
    robust_sd(&ratios)
}

/// Whether a day is left out of baselines: a day of a significant episode,
/// so that a fault that persists is not learned as the new normal.
pub(crate) type Skip = std::collections::BTreeSet<i64>;

impl Baseline {
    /// Up to `count` days before `anchor` not in `skip`, in order, looking
    /// back at most three times as far and not before the first day.
    fn days_before(anchor: i64, skip: &Skip, count: i64, first: i64) -> Vec<i64> {
        let mut days: Vec<i64> = Vec::with_capacity(count as usize);
        let mut d = anchor - 1;
        while (days.len() as i64) < count && d >= first && d >= anchor - 3 * count {
            if !skip.contains(&d) {
                days.push(d);
            }
            d -= 1;
        }
        days.reverse();
        days
    }

    /// The expectation for `day` from the `params.baseline_days` days before
    /// `anchor` that are not in `skip` (an episode's first day while it goes
    /// on: its days are not learned), adjusted to `day`'s weekday; `None`
    /// while the station has too little history.
    pub(crate) fn of(
        history: &History,
        day: i64,
        anchor: i64,
        skip: &Skip,
        params: &Params,
    ) -> Option<Baseline> {
        let first = history.first_day()?;
        let days = Self::days_before(anchor, skip, params.baseline_days, first);
        if (days.len() as i64) < params.min_history_days {
            return None;
        }
        let weekday = day.rem_euclid(7) as usize;
        let series =
            |f: &dyn Fn(i64) -> f64| -> Vec<(i64, f64)> { days.iter().map(|&d| (d, f(d))).collect() };

        // Aborted starts (zero sessions) are no sessions for the rate.
        let sessions = series(&|d| history.day(d).delivering() as f64);
        let (session_level, session_factors) = weekday_levels(&sessions, params.weekday_shrink_weeks);
        let session_factor = session_factors[weekday];
        let energy = series(&|d| history.day(d).energy_kwh);
        let (energy_level, energy_factors) = weekday_levels(&energy, params.weekday_shrink_weeks);
        // The network's movement on the day judged (its days of movement
        // are not in any baseline: `History::moved_days`).
        let common = history.common(day);
        let expected_sessions = session_level * session_factor * common;
        let compound = ((1.0 + params.session_energy_cv.powi(2)) / expected_sessions.max(1.0)).sqrt();
        let energy_cv = relative_spread(&energy, energy_level, &energy_factors)
            .unwrap_or(1.0)
            .max(compound)
            .max(params.min_energy_cv);
        let sessions_cv = relative_spread(&sessions, session_level, &session_factors).unwrap_or(1.0);
        let mut connector_totals: BTreeMap<String, f64> = BTreeMap::new();
        for &d in &days {
            for (connector, n) in &history.day(d).connector_sessions {
                *connector_totals.entry(connector.clone()).or_default() += *n as f64;
            }
        }
        let connector_sessions = connector_totals
            .into_iter()
            .map(|(c, total)| (c, total / days.len() as f64 * session_factor * common))
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
        // Zero and anomalous sessions come with the day's traffic, at the
        // station's own shares of it.
        let expected_all = expected_sessions / (1.0 - zero_share).max(0.05);
        // Zero-session events are rare: their rate (and how clumped they
        // come) is read over a longer stretch, so that a month without one
        // does not make the next one look like a surge.
        let rare_days = Self::days_before(anchor, skip, params.rare_rate_days, first);
        let (mut rare_n, mut rare_events) = (0.0, 0.0);
        for &d in &rare_days {
            let a = history.day(d);
            rare_n += a.sessions as f64;
            rare_events += a.zero_events() as f64;
        }
        let zero_events_share = (rare_events + prior * params.zero_prior_share) / (rare_n + prior);
        let zero_counts: Vec<f64> = rare_days
            .iter()
            .map(|&d| history.day(d).zero_events() as f64)
            .collect();
        let anomalous_counts: Vec<f64> = days
            .iter()
            .map(|&d| {
                let a = history.day(d);
                a.anomalous_sessions.saturating_sub(a.zero_sessions) as f64
            })
            .collect();
        let zero_rate = CountRate {
            expected: zero_events_share * expected_all,
            dispersion: dispersion(&zero_counts, params),
        };
        let anomalous_rate = CountRate {
            expected: anomalous_share * expected_all,
            dispersion: dispersion(&anomalous_counts, params),
        };

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
            expected_energy_kwh: energy_level * energy_factors[weekday] * common,
            energy_cv,
            sessions_cv,
            connector_sessions,
            zero_share,
            anomalous_share,
            zero: zero_rate,
            anomalous: anomalous_rate,
            plateaus_kw,
            plateau_kw,
        })
    }
}
