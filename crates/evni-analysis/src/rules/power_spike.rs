//! POWER_SPIKE: a power reading far above the session's level, lasting at
//! most one bucket, that the energy register does not bear out.

use evni_domain::{Anomaly, AnomalyCategory, Micros};

use super::{finding, Rule};
use crate::score::{approach, beyond, confidence, log_ratio, severity};
use crate::series::{Series, MICROS_PER_HOUR};
use crate::window::BUCKET;
use crate::SessionContext;

/// A reading this many times the plateau...
const PLATEAU_FACTOR: f64 = 2.0;
/// ...and this far above it (kW) is a spike.
const PLATEAU_MARGIN_KW: f64 = 5.0;
/// The register bears a run out when it rose by at least this share of the
/// energy the run's readings claim. A misread claims 2x or more what was
/// delivered (ratio <= 2/3 even for a spike at the threshold); a real level,
/// such as a DC charge starting high, matches its register (ratio ~1).
const BORNE_OUT: f64 = 0.9;

pub struct PowerSpike;

/// Samples above the threshold, consecutive in time, with the samples just
/// before and after it as `(ts, kW)`.
struct Run {
    first: (Micros, f64),
    last: (Micros, f64),
    peak_kw: f64,
    /// Energy claimed from `first` to `last` (kWh, trapezoids).
    claimed_kwh: f64,
    before: Option<(Micros, f64)>,
    after: Option<(Micros, f64)>,
    /// Readings below the threshold around it, as evidence of the level it
    /// stands out from.
    around: u32,
}

impl Run {
    fn start(sample: (Micros, f64), before: Option<(Micros, f64)>, around: u32) -> Self {
        Self {
            first: sample,
            last: sample,
            peak_kw: sample.1,
            claimed_kwh: 0.0,
            before,
            after: None,
            around,
        }
    }

    fn extend(&mut self, sample: (Micros, f64)) {
        self.claimed_kwh += trapezoid(self.last, sample);
        self.last = sample;
        self.peak_kw = self.peak_kw.max(sample.1);
    }

    fn duration(&self) -> Micros {
        self.last.0 - self.first.0
    }

    /// Whether the energy register rose as the readings claim: then the
    /// power was real, not a misread. Compared from the run's start to the
    /// next sample (the power held until then), or, for a run that ends the
    /// window, from the sample before it. Without a register only a run
    /// with lower readings on both sides stands out.
    fn borne_out(&self, series: &Series) -> bool {
        let (from, to, claimed) = match (self.before, self.after) {
            (_, Some(after)) => (
                self.first.0,
                after.0,
                self.claimed_kwh + trapezoid(self.last, after),
            ),
            (Some(before), None) => (
                before.0,
                self.last.0,
                self.claimed_kwh + trapezoid(before, self.first),
            ),
            (None, None) => return true,
        };
        match series.register_rate(from, to) {
            Some(rate) => rate * (to - from) as f64 / MICROS_PER_HOUR >= BORNE_OUT * claimed,
            None => self.before.is_none() || self.after.is_none(),
        }
    }
}

/// Energy (kWh) between two power samples, power changing linearly.
fn trapezoid(a: (Micros, f64), b: (Micros, f64)) -> f64 {
    (a.1 + b.1) / 2.0 * (b.0 - a.0) as f64 / MICROS_PER_HOUR
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
            reported_until = run.last.0;
            // A level that lasts is not a spike, nor one the register shows.
            if run.duration() > BUCKET || run.borne_out(series) {
                continue;
            }
            let excess = log_ratio(run.peak_kw, threshold);
            out.push(finding(
                series,
                self.category(),
                severity(beyond(excess, 0.3)),
                confidence(1.0 + run.around as f64 / 2.0 + 3.0 * excess),
                (series.bucket_at(run.first.0), series.bucket_at(run.last.0)),
                (run.first.0, run.last.0),
            ));
        }
        closest
    }
}

/// Where a reading becomes a spike: far above the plateau, or above the
/// connector's rating. The plateau alone can miss a spike in a short or
/// coarsely sampled session, where the spike's own bucket lifts it; a
/// session that really runs above its rating is a level, not a spike.
fn threshold(plateau: f64, rated_kw: Option<f64>) -> f64 {
    let relative = (PLATEAU_FACTOR * plateau).max(plateau + PLATEAU_MARGIN_KW);
    rated_kw.map_or(relative, |rated| relative.min(rated))
}

/// The run of above-threshold samples holding bucket `b`'s peak, scanned
/// over two buckets either side: enough to tell whether it lasts longer
/// than a bucket.
fn run_around(series: &Series, b: usize, threshold: f64) -> Option<Run> {
    let from = b.saturating_sub(2);
    let to = (b + 2).min(series.sequence_length - 1);
    let peak_ts = series.buckets[b].peak_ts;
    let mut before = None;
    let mut below = 0;
    let mut run: Option<Run> = None;
    for sample in series.power_samples_in(from, to) {
        let high = sample.1 > threshold;
        match run.as_mut() {
            None if high => run = Some(Run::start(sample, before, below)),
            None => {
                before = Some(sample);
                below += 1;
            }
            Some(r) if r.after.is_some() => r.around += u32::from(!high),
            Some(r) if high => r.extend(sample),
            // A run that ended before the peak is not the peak's run.
            Some(r) if r.last.0 < peak_ts => {
                before = Some(sample);
                below += 1;
                run = None;
            }
            Some(r) => {
                r.after = Some(sample);
                r.around += 1;
            }
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;
    use evni_domain::{Measurand, UnitOfMeasure, MICROS_PER_MINUTE as MINUTE};

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
    fn two_readings_inside_one_bucket_are_a_spike() {
        let found = run(&PowerSpike, &with_peak(60.0, 20, 2));
        assert_eq!(found.len(), 1);
        assert_eq!(range(&found[0]), (1, 1));
        assert_eq!(times(&found[0]), (T0 + 20 * MINUTE, T0 + 21 * MINUTE));
    }

    #[test]
    fn a_run_lasting_one_bucket_is_a_spike_one_reading_more_is_not() {
        // 1-min readings: 16 of them span exactly 15 min, 17 span 16 min.
        let found = run(&PowerSpike, &with_peak(80.0, 10, 16));
        assert_eq!(found.len(), 1);
        assert_eq!(range(&found[0]), (0, 1));
        assert!(run(&PowerSpike, &with_peak(80.0, 10, 17)).is_empty());
    }

    #[test]
    fn a_spike_needs_no_reading_after_it() {
        // The session's last reading: the register before it shows 11 kW.
        let found = run(&PowerSpike, &with_peak(60.0, 179, 1));
        assert_eq!(found.len(), 1);
        assert_eq!(range(&found[0]), (11, 11));
    }

    /// A DC charge opening at `first_kw` and tapering fast, then idle, at
    /// 2-min readings; the register follows the taper as if the first
    /// reading were `register_kw`.
    fn dc_start(first_kw: f64, register_kw: f64) -> Vec<evni_domain::Reading> {
        let true_kw = |i: usize| match i {
            0 => register_kw,
            1..=7 => (144.0 * 0.75f64.powi(i as i32)).max(33.0),
            _ => 0.0,
        };
        let mut register = 78_376_790.0;
        let mut out = Vec::new();
        for i in 0..30 {
            let ts = T0 + 2 * i as i64 * MINUTE;
            let reported = if i == 0 { first_kw } else { true_kw(i) };
            out.push(reading(
                ts,
                Measurand::EnergyActiveImportRegister,
                Some(UnitOfMeasure::Wh),
                register,
            ));
            out.push(reading(
                ts,
                Measurand::PowerActiveImport,
                Some(UnitOfMeasure::KW),
                reported,
            ));
            register += (true_kw(i) + true_kw(i + 1)) / 2.0 * 1000.0 * 2.0 / 60.0;
        }
        out
    }

    #[test]
    fn a_dc_charge_starting_high_is_no_spike_when_the_register_follows() {
        // 144 kW is above twice the plateau, but the register rose as much.
        let real = dc_start(144.0, 144.0);
        let series = crate::series::Series::build(&real, &SessionContext::default());
        assert!(144.0 > threshold(series.plateau_kw.unwrap(), None));
        assert!(run(&PowerSpike, &real).is_empty());
        // The same opening reading with a register that did not rise for it.
        let misread = run(&PowerSpike, &dc_start(300.0, 144.0));
        assert_eq!(misread.len(), 1);
        assert_eq!(range(&misread[0]), (0, 0));
    }

    #[test]
    fn above_the_rating_counts() {
        let rated = SessionContext {
            rated_power_kw: Some(15.0),
        };
        assert_eq!(run_with(&PowerSpike, &with_peak(16.0, 20, 1), &rated).len(), 1);
        assert!(run_with(&PowerSpike, &with_peak(14.0, 20, 1), &rated).is_empty());
        // Even where a coarse, short session's spike lifts the plateau
        // above the rating: one 15-min reading of three is the spike.
        let mut readings = power_profile(&[7.0, 7.0, 7.0], 900);
        readings[3].value = 60.0;
        assert!(run(&PowerSpike, &readings).is_empty());
        assert_eq!(run_with(&PowerSpike, &readings, &rated).len(), 1);
    }
}
