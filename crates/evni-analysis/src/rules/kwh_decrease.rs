//! KWH_DECREASE: the energy register goes down by more than 1 Wh.

use evni_domain::{Anomaly, AnomalyCategory};

use super::{event_spans, finding, Rule};
use crate::score::{approach, beyond, confidence, severity};
use crate::series::{Series, DECREASE_MIN_KWH};
use crate::SessionContext;

pub struct KwhDecrease;

impl Rule for KwhDecrease {
    fn category(&self) -> AnomalyCategory {
        AnomalyCategory::KwhDecrease
    }

    fn detect(&self, series: &Series, _: &SessionContext, out: &mut Vec<Anomaly>) -> f64 {
        for (event, end) in event_spans(series, |b| b.register_drop) {
            // Drops span orders of magnitude (a Wh rounding slip to a meter
            // reset): severity and certainty grow with each order past 1 Wh.
            let orders = (event.magnitude / DECREASE_MIN_KWH).log10();
            let score = severity(beyond(orders, 1.0));
            let points = 2.0 * event.count as f64 + orders;
            out.push(finding(
                series,
                self.category(),
                score,
                confidence(points),
                (event.from_bucket, end),
                (event.from_ts, event.to_ts),
            ));
        }
        approach(series.register.largest_drop_kwh, DECREASE_MIN_KWH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    #[test]
    fn a_drop_just_above_one_wh_is_flagged_at_the_edge() {
        // 1 kW charge in Wh, 1-min readings; reading 10 steps back by 1.5 Wh.
        let mut values: Vec<f64> = (0..30).map(|i| 10_000.0 + 16.0 * i as f64).collect();
        values[10] = values[9] - 1.5;
        let found = run(&KwhDecrease, &register_wh(&values, 60));
        assert_eq!(found.len(), 1);
        assert!((0.5..0.6).contains(&found[0].score), "{}", found[0].score);
        assert_eq!(range(&found[0]), (0, 0));
    }

    #[test]
    fn a_drop_of_one_wh_or_less_is_not() {
        let mut values: Vec<f64> = (0..30).map(|i| 10_000.0 + 16.0 * i as f64).collect();
        values[10] = values[9] - 1.0;
        assert!(run(&KwhDecrease, &register_wh(&values, 60)).is_empty());
    }

    #[test]
    fn a_reset_is_a_clear_decrease_with_hand_computed_ranges() {
        // 5-min readings: the drop happens between 40 min (bucket 2) and 45 min (bucket 3).
        let mut values: Vec<f64> = (0..20).map(|i| 48_213_700.0 + 500.0 * i as f64).collect();
        for v in &mut values[9..] {
            *v -= 48_000_000.0;
        }
        let readings = register_wh(&values, 300);
        let found = run(&KwhDecrease, &readings);
        assert_eq!(found.len(), 1);
        assert_eq!(range(&found[0]), (2, 3));
        assert_eq!(times(&found[0]), (readings[8].ts, readings[9].ts));
        assert!(found[0].score > 0.95 && found[0].confidence > 0.9);
    }
}
