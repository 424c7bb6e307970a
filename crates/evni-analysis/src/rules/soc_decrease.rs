//! SOC_DECREASE: state of charge falls during a charge.

use evni_domain::{Anomaly, AnomalyCategory};

use super::{event_spans, finding, Rule};
use crate::score::{approach, beyond, confidence, severity};
use crate::series::{Series, SOC_DROP_POINTS};
use crate::SessionContext;

pub struct SocDecrease;

impl Rule for SocDecrease {
    fn category(&self) -> AnomalyCategory {
        AnomalyCategory::SocDecrease
    }

    fn detect(&self, series: &Series, _: &SessionContext, out: &mut Vec<Anomaly>) -> f64 {
        for (event, end) in event_spans(series, |b| b.soc_drop) {
            let excess = event.magnitude / SOC_DROP_POINTS - 1.0;
            // Steady SoC around the drop makes it stand out from noise.
            let points = 2.0 * event.count as f64
                + event.magnitude / SOC_DROP_POINTS
                + series.soc.readings.min(20) as f64 / 10.0;
            out.push(finding(
                series,
                self.category(),
                severity(beyond(excess, 1.0)),
                confidence(points),
                (event.from_bucket, end),
                (event.from_ts, event.to_ts),
            ));
        }
        approach(series.soc.largest_drop, SOC_DROP_POINTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    fn socs(drop: f64) -> Vec<evni_domain::Reading> {
        let mut values: Vec<f64> = (0..40).map(|i| 30.0 + 0.5 * i as f64).collect();
        for v in &mut values[25..] {
            *v -= drop + 0.5;
        }
        soc_series(&values, 60)
    }

    #[test]
    fn three_points_is_a_drop() {
        let found = run(&SocDecrease, &socs(3.0));
        assert_eq!(found.len(), 1);
        assert_eq!(range(&found[0]), (1, 1));
        assert!(found[0].score < 0.55);
    }

    #[test]
    fn less_is_not() {
        assert!(run(&SocDecrease, &socs(2.9)).is_empty());
    }

    #[test]
    fn export_explains_a_fall() {
        let mut readings = socs(8.0);
        let at = readings[25].ts;
        readings.push(reading(at, evni_domain::Measurand::PowerActiveExport, None, 5.0));
        readings.sort_by_key(|r| r.ts);
        assert!(run(&SocDecrease, &readings).is_empty());
    }
}
