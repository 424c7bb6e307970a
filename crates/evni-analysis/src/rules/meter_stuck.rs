//! METER_STUCK: the register freezes while energy is clearly flowing.

use evni_domain::{Anomaly, AnomalyCategory, Micros, MICROS_PER_MINUTE};

use super::{finding, Rule};
use crate::score::{approach, beyond, confidence, either, severity};
use crate::series::{FrozenRun, PowerSamples, Series, SOC_RISE_POINTS};
use crate::SessionContext;

/// Frozen for two buckets...
const MIN_FROZEN: Micros = 30 * MICROS_PER_MINUTE;
/// ...while at least this much power is reported (kW), or the SoC rises
/// by [`SOC_RISE_POINTS`].
const FLOWING_KW: f64 = 1.0;

pub struct MeterStuck;

/// The part of a frozen run during which energy was flowing.
struct Flowing {
    from_ts: Micros,
    to_ts: Micros,
    mean_kw: f64,
    samples: u32,
}

impl Rule for MeterStuck {
    fn category(&self) -> AnomalyCategory {
        AnomalyCategory::MeterStuck
    }

    fn detect(&self, series: &Series, _: &SessionContext, out: &mut Vec<Anomaly>) -> f64 {
        let mut closest: f64 = 0.0;
        for run in series.frozen.as_slice() {
            let soc_rise = run.soc_rise;
            let flowing = flowing(series, run);
            let (from, to, power_excess, samples) = match flowing {
                Some(f) => (f.from_ts, f.to_ts, f.mean_kw / FLOWING_KW - 1.0, f.samples),
                None if soc_rise >= SOC_RISE_POINTS => (run.since_ts, run.last_ts, 0.0, 0),
                None => continue,
            };
            let length = to - from;
            closest = closest.max(approach(length as f64, MIN_FROZEN as f64));
            if length < MIN_FROZEN {
                continue;
            }
            let soc_excess = soc_rise / SOC_RISE_POINTS - 1.0;
            let past = either(
                beyond(length as f64 / MIN_FROZEN as f64 - 1.0, 1.0),
                either(beyond(power_excess, 5.0), beyond(soc_excess, 1.0)),
            );
            // Repeated register values plus each corroborating signal.
            let corroborated = f64::from(samples > 0) + f64::from(soc_rise >= SOC_RISE_POINTS);
            let points = run.readings as f64 / 2.0 + 3.0 * corroborated;
            let shows_from = run.first_repeat_ts.max(from);
            out.push(finding(
                series,
                self.category(),
                severity(past),
                confidence(points),
                (series.bucket_at(shows_from), series.bucket_at(to)),
                (shows_from, to),
            ));
        }
        closest
    }
}

/// The stretch of a frozen run with power at or above [`FLOWING_KW`]: from
/// the run's start (or the first flowing sample) to its end (or the last).
fn flowing(series: &Series, run: &FrozenRun) -> Option<Flowing> {
    let readings = series.readings_between(run.since_ts, run.last_ts);
    let samples = PowerSamples::new(readings, series.power_location);
    let (mut first, mut last) = (None, None);
    let (mut first_sample, mut last_sample) = (None, None);
    for (ts, kw) in samples {
        first_sample.get_or_insert(ts);
        last_sample = Some(ts);
        if kw >= FLOWING_KW {
            first.get_or_insert(ts);
            last = Some(ts);
        }
    }
    let (first, last) = (first?, last?);
    let from = if Some(first) == first_sample {
        run.since_ts
    } else {
        first
    };
    let to = if Some(last) == last_sample {
        run.last_ts
    } else {
        last
    };
    let (sum, count) = PowerSamples::new(series.readings_between(from, to), series.power_location)
        .fold((0.0, 0u32), |(s, n), (_, kw)| (s + kw, n + 1));
    let mean_kw = sum / count.max(1) as f64;
    (mean_kw >= FLOWING_KW).then_some(Flowing {
        from_ts: from,
        to_ts: to,
        mean_kw,
        samples: count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    /// 11 kW at 1-min readings over 2 h, register frozen for `minutes`
    /// from minute 30 on.
    fn frozen(minutes: usize, power_kw: f64) -> Vec<evni_domain::Reading> {
        let mut readings = power_profile(&[power_kw; 8], 60);
        freeze_register(&mut readings, 30, 30 + minutes);
        readings
    }

    #[test]
    fn thirty_minutes_at_power_is_stuck() {
        let found = run(&MeterStuck, &frozen(30, 11.0));
        assert_eq!(found.len(), 1);
        // Frozen from minute 30 (first repeat 31, bucket 2) to 60 (bucket 4).
        assert_eq!(range(&found[0]), (2, 4));
    }

    #[test]
    fn shorter_or_without_power_is_not() {
        assert!(run(&MeterStuck, &frozen(29, 11.0)).is_empty());
        assert!(run(&MeterStuck, &frozen(60, 0.9)).is_empty());
        assert_eq!(run(&MeterStuck, &frozen(60, 1.0)).len(), 1);
    }

    #[test]
    fn at_the_edges_the_score_is_near_half() {
        let found = run(&MeterStuck, &frozen(30, 1.0));
        assert!(found[0].score < 0.6, "{}", found[0].score);
        let clear = run(&MeterStuck, &frozen(60, 22.0));
        assert!(clear[0].score > 0.9 && clear[0].confidence > 0.9);
    }
}
