//! POWER_SPIKE: an isolated power reading far above the session's level.

use evni_domain::{Anomaly, AnomalyCategory, Micros};

use super::{finding, Rule};
use crate::score::{approach, beyond, confidence, log_ratio, severity};
use crate::series::Series;
use crate::window::BUCKET;
use crate::SessionContext;

/// A reading this many times the plateau...
const PLATEAU_FACTOR: f64 = 2.0;
/// ...and this far above it (kW) is a spike.
const PLATEAU_MARGIN_KW: f64 = 5.0;

pub struct PowerSpike;

/// Samples above the threshold, consecutive in time.
struct Run {
    first_ts: Micros,
    last_ts: Micros,
    peak_kw: f64,
    /// A reading below the threshold came before it...
    below_before: bool,
    /// ...and one after it.
    isolated: bool,
    /// Readings after the run, as evidence of the level it stands out from.
    around: u32,
}

impl Rule for PowerSpike {
    fn category(&self) -> AnomalyCategory {
        AnomalyCategory::PowerSpike
    }

    fn detect(&self, series: &Series, context: &SessionContext, out: &mut Vec<Anomaly>) -> f64 {
        let Some(plateau) = series.plateau_kw else {
            return 0.0;
        };
        if series.reported_power_samples == 0 {
            return 0.0;
        }
        let threshold = threshold(plateau, context.rated_power_kw);
        let mut closest: f64 = 0.0;
        let mut reported_until = Micros::MIN;
        for b in 0..series.sequence_length {
            let bucket = &series.buckets[b];
            if bucket.power_samples == 0 {
                continue;
            }
            closest = closest.max(approach(bucket.peak_kw, threshold));
            if bucket.peak_kw <= threshold || bucket.peak_ts <= reported_until {
                continue;
            }
            let Some(run) = run_around(series, b, threshold) else {
                continue;
            };
            reported_until = run.last_ts;
            // Isolated and short: a level that lasts is not a spike.
            if !run.isolated || run.last_ts - run.first_ts > BUCKET {
                continue;
            }
            let excess = log_ratio(run.peak_kw, threshold);
            out.push(finding(
                series,
                self.category(),
                severity(beyond(excess, 0.3)),
                confidence(1.0 + run.around as f64 / 2.0 + 3.0 * excess),
                (series.bucket_at(run.first_ts), series.bucket_at(run.last_ts)),
                (run.first_ts, run.last_ts),
            ));
        }
        closest
    }
}

/// Where a reading becomes a spike: far above the plateau, or above the
/// connector's rating when the session normally runs below it.
fn threshold(plateau: f64, rated_kw: Option<f64>) -> f64 {
    let relative = (PLATEAU_FACTOR * plateau).max(plateau + PLATEAU_MARGIN_KW);
    match rated_kw {
        Some(rated) if rated > plateau => relative.min(rated),
        _ => relative,
    }
}

/// The run of above-threshold samples holding bucket `b`'s peak, scanned
/// over two buckets either side.
fn run_around(series: &Series, b: usize, threshold: f64) -> Option<Run> {
    let from = b.saturating_sub(2);
    let to = (b + 2).min(series.sequence_length - 1);
    let peak_ts = series.buckets[b].peak_ts;
    let mut below = 0;
    let mut run: Option<Run> = None;
    for (ts, kw) in series.power_samples_in(from, to) {
        let high = kw > threshold;
        match run.as_mut() {
            None if high => {
                run = Some(Run {
                    first_ts: ts,
                    last_ts: ts,
                    peak_kw: kw,
                    below_before: below > 0,
                    isolated: false,
                    around: below,
                })
            }
            None => below += 1,
            Some(r) if r.isolated => r.around += u32::from(!high),
            Some(r) if high => {
                r.last_ts = ts;
                r.peak_kw = r.peak_kw.max(kw);
            }
            // A run that ended before the peak is not the peak's run.
            Some(r) if r.last_ts < peak_ts => {
                below += 1;
                run = None;
            }
            Some(r) => {
                r.isolated = r.below_before;
                r.around += 1;
                if !r.isolated {
                    return run;
                }
            }
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;
    use evni_domain::{Measurand, UnitOfMeasure};

    /// 11 kW at 1-min readings for 3 h with `count` readings from `at` on
    /// replaced by `kw`. With 12 buckets the plateau (90th percentile) stays
    /// at 11 kW, so the threshold is exactly 22 kW.
    fn with_peak(kw: f64, at: usize, count: usize) -> Vec<evni_domain::Reading> {
        let mut readings = power_profile(&[11.0; 12], 60);
        let power = readings
            .iter_mut()
            .filter(|r| r.measurand == Measurand::PowerActiveImport);
        for r in power.skip(at).take(count) {
            r.value = kw;
            r.unit = Some(UnitOfMeasure::KW);
        }
        readings
    }

    #[test]
    fn just_above_twice_the_plateau_is_a_spike() {
        let found = run(&PowerSpike, &with_peak(22.5, 20, 1));
        assert_eq!(found.len(), 1);
        assert_eq!(range(&found[0]), (1, 1));
        assert!(found[0].score < 0.6, "{}", found[0].score);
    }

    #[test]
    fn twice_the_plateau_is_not() {
        assert!(run(&PowerSpike, &with_peak(21.9, 20, 1)).is_empty());
    }

    #[test]
    fn the_margin_of_five_kw_applies_at_low_power() {
        let mut readings = power_profile(&[2.0; 12], 60);
        // 6.9 kW: more than twice 2 kW but not 2 + 5 kW.
        let peak = readings
            .iter_mut()
            .filter(|r| r.measurand == Measurand::PowerActiveImport)
            .nth(20)
            .unwrap();
        peak.value = 6900.0;
        peak.unit = Some(UnitOfMeasure::W);
        assert!(run(&PowerSpike, &readings).is_empty());
    }

    #[test]
    fn a_level_lasting_longer_than_a_bucket_is_not_a_spike() {
        assert!(run(&PowerSpike, &with_peak(80.0, 10, 20)).is_empty());
        let found = run(&PowerSpike, &with_peak(80.0, 10, 3));
        assert_eq!(found.len(), 1);
        assert!(found[0].score > 0.9);
    }

    #[test]
    fn above_the_rating_counts() {
        let rated = SessionContext {
            rated_power_kw: Some(15.0),
        };
        assert_eq!(run_with(&PowerSpike, &with_peak(16.0, 20, 1), &rated).len(), 1);
        assert!(run_with(&PowerSpike, &with_peak(14.0, 20, 1), &rated).is_empty());
    }
}
