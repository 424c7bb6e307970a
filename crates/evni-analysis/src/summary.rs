//! Per-session facts for station health (analysis.md §6): energy delivered,
//! plateau power, duration and whether the session delivered (almost)
//! nothing. Pure, like the rest of the analysis.

use evni_domain::{Location, Measurand, Micros, Phase, Reading};

use crate::series::Series;
use crate::{window, SessionContext};

/// Energy below which a session delivered nothing (kWh): a zero session,
/// whatever its length. An aborted start (a few minutes, a few Wh) is
/// evidence that the station did not charge, not a slow charge: it counts
/// as a zero session and has no plateau power (issue 19).
pub const ZERO_KWH: f64 = 0.1;
const MICROS_PER_HOUR: f64 = 3.6e9;

/// What one session contributes to its station's day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionSummary {
    /// Energy delivered (kWh): the plausible increase of the energy register,
    /// else integrated power.
    pub energy_kwh: f64,
    /// Typical charging power (kW) of the analysed window, when any
    /// bucket delivered energy.
    pub plateau_kw: Option<f64>,
    /// Time from the first to the last reading.
    pub duration: Micros,
    pub is_zero: bool,
}

/// Summarises a session. `readings` must be sorted by timestamp; `None`
/// without readings.
pub fn summarize(readings: &[Reading], context: &SessionContext) -> Option<SessionSummary> {
    if readings.is_empty() {
        return None;
    }
    let window = window::window(readings);
    Some(from_series(readings, window, &Series::build(window, context)))
}

/// The summary of non-empty `readings` whose last 6 h `window` built `series`.
pub(crate) fn from_series(readings: &[Reading], window: &[Reading], series: &Series) -> SessionSummary {
    let (first, last) = (&readings[0], &readings[readings.len() - 1]);
    // The analysis looks at the last 6 h; energy counts the whole session.
    let before = readings.len() - window.len();
    let earlier = if before > 0 {
        register_increase(&readings[..=before], series.jump_threshold_kw)
    } else {
        0.0
    };
    let energy_kwh = series.delivered_kwh + earlier;
    let duration = last.ts - first.ts;
    let is_zero = energy_kwh < ZERO_KWH;
    SessionSummary {
        energy_kwh,
        plateau_kw: series.plateau_kw.filter(|_| !is_zero),
        duration,
        is_zero,
    }
}

/// Plausible increase of the first energy register stream in `readings`:
/// growth above the high-water mark, without steps faster than
/// `jump_threshold_kw` (a unit mix-up is no delivery).
fn register_increase(readings: &[Reading], jump_threshold_kw: f64) -> f64 {
    let mut stream: Option<(Location, Option<Phase>)> = None;
    let mut prev: Option<(Micros, f64)> = None;
    let mut high_water = f64::NEG_INFINITY;
    let mut total = 0.0;
    for r in readings
        .iter()
        .filter(|r| r.measurand == Measurand::EnergyActiveImportRegister)
    {
        if *stream.get_or_insert((r.location, r.phase)) != (r.location, r.phase) {
            continue;
        }
        let value = r.normalized();
        if let Some((ts, _)) = prev {
            let hours = (r.ts - ts) as f64 / MICROS_PER_HOUR;
            let increase = value - high_water;
            if increase > 0.0 && hours > 0.0 && increase / hours <= jump_threshold_kw {
                total += increase;
            }
        }
        high_water = high_water.max(value);
        prev = Some((r.ts, value));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use evni_domain::{UnitOfMeasure, MICROS_PER_MINUTE};

    fn register(minute: i64, kwh: f64) -> Reading {
        Reading {
            ts: 1_800_000_000_000_000 + minute * MICROS_PER_MINUTE,
            measurand: Measurand::EnergyActiveImportRegister,
            phase: None,
            location: Location::Outlet,
            unit: Some(UnitOfMeasure::KWh),
            value: kwh,
            context: None,
        }
    }

    #[test]
    fn energy_is_the_register_increase_and_plateau_the_charging_power() {
        let readings: Vec<_> = (0..=60)
            .map(|m| register(m, 5000.0 + 11.0 * m as f64 / 60.0))
            .collect();
        let s = summarize(&readings, &SessionContext::default()).unwrap();
        assert!((s.energy_kwh - 11.0).abs() < 1e-6, "{s:?}");
        assert!((s.plateau_kw.unwrap() - 11.0).abs() < 0.1, "{s:?}");
        assert_eq!(s.duration, 60 * MICROS_PER_MINUTE);
        assert!(!s.is_zero);
    }

    #[test]
    fn a_long_session_counts_energy_before_the_window() {
        // 8 h at 7 kW: the analysis window holds the last 6 h only.
        let readings: Vec<_> = (0..=480)
            .step_by(5)
            .map(|m| register(m, 100.0 + 7.0 * m as f64 / 60.0))
            .collect();
        let s = summarize(&readings, &SessionContext::default()).unwrap();
        assert!((s.energy_kwh - 56.0).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn a_connected_session_without_delivery_is_zero() {
        let readings: Vec<_> = (0..=30).map(|m| register(m, 300.0)).collect();
        let s = summarize(&readings, &SessionContext::default()).unwrap();
        assert!(s.is_zero && s.energy_kwh == 0.0, "{s:?}");
        // An aborted start: two minutes, 0.03 kWh, no plateau power.
        let aborted = [register(0, 300.0), register(1, 300.01), register(2, 300.03)];
        let s = summarize(&aborted, &SessionContext::default()).unwrap();
        assert!(s.is_zero && s.plateau_kw.is_none(), "{s:?}");
        // A short session that delivered is no zero session.
        let short = [register(0, 300.0), register(3, 300.5)];
        assert!(!summarize(&short, &SessionContext::default()).unwrap().is_zero);
        assert!(summarize(&[], &SessionContext::default()).is_none());
    }
}
