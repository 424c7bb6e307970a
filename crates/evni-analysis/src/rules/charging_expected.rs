//! CHARGING_EXPECTED: delivery stops for good while the EV still needs energy.

use evni_domain::{Anomaly, AnomalyCategory};

use super::{finding, readings_in, Rule};
use crate::rules::energy_pit::LOW_SHARE;
use crate::score::{approach, beyond, confidence, either, severity};
use crate::series::{Series, DELIVERING_KW};
use crate::SessionContext;

/// Below this SoC the EV still needs energy.
const NEEDS_ENERGY_SOC: f64 = 80.0;
/// The stop must cover at least this many buckets up to the last reading.
const MIN_BUCKETS: usize = 2;

pub struct ChargingExpected;

impl Rule for ChargingExpected {
    fn category(&self) -> AnomalyCategory {
        AnomalyCategory::ChargingExpected
    }

    fn detect(&self, series: &Series, _: &SessionContext, out: &mut Vec<Anomaly>) -> f64 {
        // Without SoC a stop looks like a full battery: not flagged.
        let (Some(plateau), Some(soc)) = (series.plateau_kw, series.soc.last) else {
            return 0.0;
        };
        let low = LOW_SHARE * plateau * (1.0 - 1e-9);
        let last = series.sequence_length - 1;
        // The trailing run of low buckets (unknown buckets do not break it).
        let mut start = None;
        let mut highest: f64 = 0.0;
        for b in (0..=last).rev() {
            let Some(power) = series.buckets[b].power_kw else {
                continue;
            };
            if power >= low {
                break;
            }
            start = Some(b);
            highest = highest.max(power);
        }
        let Some(start) = start else { return 0.0 };
        let delivered_before = series
            .bucket_powers()
            .any(|(b, p)| b < start && p > DELIVERING_KW);
        if !delivered_before {
            return 0.0;
        }
        let span = last - start + 1;
        if span >= MIN_BUCKETS && soc < NEEDS_ENERGY_SOC {
            let needs = beyond((NEEDS_ENERGY_SOC - soc) / 10.0, 1.0);
            let stopped = either(beyond((low - highest) / low, 0.4), beyond(span as f64 - 2.0, 2.0));
            let known = (start..=last)
                .filter(|&b| series.buckets[b].power_kw.is_some())
                .count() as f64;
            out.push(finding(
                series,
                self.category(),
                severity(needs * stopped),
                confidence(known + readings_in(series, start, last) / 3.0),
                (start, last),
                (series.buckets[start].first_ts, series.last_ts),
            ));
        }
        // Above 80 % a stop is ever less like one that left the EV short:
        // closeness fades by e per 5 SoC points.
        let short = if soc < NEEDS_ENERGY_SOC {
            1.0
        } else {
            (-(soc - NEEDS_ENERGY_SOC) / 5.0).exp()
        };
        approach(span as f64, MIN_BUCKETS as f64 + 0.5) * short
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    #[test]
    fn a_stop_at_low_soc_for_two_buckets_is_flagged() {
        let found = run(
            &ChargingExpected,
            &with_soc(&power_profile(&[11.0, 11.0, 0.0, 0.0], 60), 40.0, 0.1),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(range(&found[0]), (2, 3));
        assert!(found[0].score > 0.8);
    }

    #[test]
    fn one_bucket_or_soc_at_80_is_not() {
        assert!(run(
            &ChargingExpected,
            &with_soc(&power_profile(&[11.0, 11.0, 0.0], 60), 40.0, 0.1)
        )
        .is_empty());
        let full = with_soc(&power_profile(&[11.0, 11.0, 0.0, 0.0], 60), 75.0, 0.2);
        assert!(run(&ChargingExpected, &full).is_empty(), "last SoC is 81");
    }

    #[test]
    fn without_soc_a_stop_looks_like_a_full_battery() {
        assert!(run(
            &ChargingExpected,
            &power_profile(&[11.0, 11.0, 0.0, 0.0, 0.0], 60)
        )
        .is_empty());
    }
}
