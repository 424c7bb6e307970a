//! DATA_GAP: telemetry stops mid-session and comes back.

use evni_domain::{Anomaly, AnomalyCategory, Micros, MICROS_PER_MINUTE};

use super::{finding, Rule};
use crate::score::{approach, beyond, confidence, severity};
use crate::series::Series;
use crate::SessionContext;

/// A silence must last this long...
const MIN_GAP: Micros = 30 * MICROS_PER_MINUTE;
/// ...and this many median sampling intervals.
const MEDIAN_FACTOR: Micros = 3;

pub struct DataGap;

impl Rule for DataGap {
    fn category(&self) -> AnomalyCategory {
        AnomalyCategory::DataGap
    }

    fn detect(&self, series: &Series, _: &SessionContext, out: &mut Vec<Anomaly>) -> f64 {
        let threshold = MIN_GAP.max(MEDIAN_FACTOR * series.median_interval);
        for gap in series.gaps.as_slice() {
            let length = gap.to_ts - gap.from_ts;
            if length < threshold {
                continue;
            }
            let excess = length as f64 / threshold as f64 - 1.0;
            // Regular sampling makes a silence stand out: count the missed readings.
            let missed = length as f64 / series.median_interval.max(1) as f64;
            out.push(finding(
                series,
                self.category(),
                severity(beyond(excess, 1.0)),
                confidence(2.0 + missed),
                (series.bucket_at(gap.from_ts), series.bucket_at(gap.to_ts)),
                (gap.from_ts, gap.to_ts),
            ));
        }
        approach(series.longest_interval as f64, threshold as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    fn with_gap(interval_s: i64, gap_s: i64) -> Vec<evni_domain::Reading> {
        // Stay within the 6 h window.
        let n = (18_000 / interval_s).min(30);
        let values: Vec<f64> = (0..n).map(|i| 1000.0 + 100.0 * i as f64).collect();
        let mut readings = register_wh(&values, interval_s);
        for r in &mut readings[15..] {
            r.ts += (gap_s - interval_s) * 1_000_000;
        }
        readings
    }

    #[test]
    fn thirty_minutes_at_one_minute_sampling_is_a_gap() {
        let readings = with_gap(60, 30 * 60);
        let found = run(&DataGap, &readings);
        assert_eq!(found.len(), 1);
        // From 14 min (bucket 0) to 44 min (bucket 2).
        assert_eq!(range(&found[0]), (0, 2));
        assert_eq!(times(&found[0]), (readings[14].ts, readings[15].ts));
        assert!(found[0].score < 0.55);
    }

    #[test]
    fn shorter_is_not() {
        assert!(run(&DataGap, &with_gap(60, 29 * 60)).is_empty());
    }

    #[test]
    fn sparse_sampling_needs_three_intervals() {
        // 15-min sampling: 30 min is one missed reading, 45 min is a gap.
        assert!(run(&DataGap, &with_gap(900, 30 * 60)).is_empty());
        assert!(run(&DataGap, &with_gap(900, 44 * 60)).is_empty());
        assert_eq!(run(&DataGap, &with_gap(900, 45 * 60)).len(), 1);
    }
}
