//! METER_STUCK: the register freezes while energy is clearly flowing.

use evni_domain::{Anomaly, AnomalyCategory, Micros, MICROS_PER_MINUTE};

use super::{finding, Rule};
use crate::score::{approach, beyond, confidence, either, severity};
use crate::series::{time_weighted_mean, FrozenRun, PowerSamples, Series, MICROS_PER_HOUR, SOC_RISE_POINTS};
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
/// Power is averaged over time, not samples, and must imply at least one
/// step of the register's resolution: a coarse register at a slow charge
/// legitimately repeats its value for a while.
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
    let samples = PowerSamples::new(series.readings_between(from, to), series.power_location);
    let (mean_kw, count) = time_weighted_mean(samples)?;
    let implied_kwh = mean_kw * (to - from) as f64 / MICROS_PER_HOUR;
    (mean_kw >= FLOWING_KW && implied_kwh > series.register.resolution_kwh).then_some(Flowing {
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

    /// 11 kW for 3 h sampled at `times`, a 1-Wh register frozen over
    /// `frozen` (s).
    fn irregular(times: &[i64], frozen: (i64, i64)) -> Vec<evni_domain::Reading> {
        sampled_charge(times, |_| 11.0, 0.001, Some(frozen))
    }

    #[test]
    fn a_freeze_is_judged_by_minutes_at_any_sampling() {
        // (interval, jitter): 30 s, 5 min, jittered 5 min, jittered 15 min.
        for (interval, jitter) in [(30, 0), (300, 0), (300, 100), (900, 200)] {
            let times = jittered_times(180, interval, jitter);
            // The first reading at or after minute 60 holds; the register
            // shows the freeze from there to the last reading of the span.
            let shows = |from: i64, to: i64| {
                let mut held = times.iter().filter(|t| (from..=to).contains(*t));
                let first = held.next().copied().unwrap_or(to);
                held.next_back().map_or(0, |last| last - first)
            };
            // Long enough that the repeated readings span >= 30 min.
            let to = (3600..).step_by(60).find(|&to| shows(3600, to) >= 1800).unwrap();
            let found = run(&MeterStuck, &irregular(&times, (3600, to)));
            assert_eq!(found.len(), 1, "{interval} s ± {jitter}");
            // One reading less: the repeats span under 30 min.
            let short = times.iter().copied().filter(|&t| t < to).max().unwrap();
            if shows(3600, short) < 1800 {
                let found = run(&MeterStuck, &irregular(&times, (3600, short)));
                assert!(found.is_empty(), "{interval} s ± {jitter}: {found:?}");
            }
        }
    }

    #[test]
    fn a_coarse_register_at_a_slow_charge_is_not_stuck() {
        // Whole kWh at 1.4 kW: the register ticks every ~43 min.
        let readings = sampled_charge(&jittered_times(240, 60, 10), |_| 1.4, 1.0, None);
        assert!(run(&MeterStuck, &readings).is_empty());
    }

    #[test]
    fn sparse_samples_of_a_slow_charge_are_not_stuck() {
        // 15-min sampling at 1.2 kW, 1 kWh resolution: four equal readings
        // 45 min apart are 0.9 kWh, under one step of the register.
        let readings = sampled_charge(&jittered_times(300, 900, 60), |_| 1.2, 1.0, None);
        assert!(run(&MeterStuck, &readings).is_empty());
    }

    #[test]
    fn a_coarse_register_that_freezes_at_power_is_stuck() {
        // Whole kWh at 11 kW: 40 min frozen should have counted ~7 steps.
        let times = jittered_times(180, 300, 60);
        let readings = sampled_charge(&times, |_| 11.0, 1.0, Some((3600, 6000)));
        assert_eq!(run(&MeterStuck, &readings).len(), 1);
    }
}
