//! ENERGY_JUMP: the register rises faster than any charger can deliver.

use evni_domain::{Anomaly, AnomalyCategory};

use super::{event_spans, finding, Rule};
use crate::score::{approach, beyond, confidence, log_ratio, severity};
use crate::series::Series;
use crate::SessionContext;

pub struct EnergyJump;

impl Rule for EnergyJump {
    fn category(&self) -> AnomalyCategory {
        AnomalyCategory::EnergyJump
    }

    fn detect(&self, series: &Series, _: &SessionContext, out: &mut Vec<Anomaly>) -> f64 {
        let threshold = series.jump_threshold_kw;
        for (event, end) in event_spans(series, |b| b.register_jump) {
            // Implied power is compared on a log scale: a Wh/kWh mix-up is
            // a factor of 1000, a marginal overshoot a few percent.
            let excess = log_ratio(event.magnitude, threshold);
            let points = 2.0 * event.count as f64 + 2.0 * excess;
            out.push(finding(
                series,
                self.category(),
                severity(beyond(excess, 0.5)),
                confidence(points),
                (event.from_bucket, end),
                (event.from_ts, event.to_ts),
            ));
        }
        approach(series.register.peak_rate_kw, threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    fn steps(jump_kwh: f64) -> Vec<f64> {
        // 10 kW for 40 min at 1-min readings (Wh), one step of `jump_kwh`.
        let mut values: Vec<f64> = (0..40).map(|i| 1_000_000.0 + 166.7 * i as f64).collect();
        for v in &mut values[20..] {
            *v += jump_kwh * 1000.0;
        }
        values
    }

    #[test]
    fn just_over_400_kw_without_rating_is_a_jump() {
        // 6.8 kWh more in one minute: 10 + 408 kW implied.
        let found = run(&EnergyJump, &register_wh(&steps(6.8), 60));
        assert_eq!(found.len(), 1);
        assert!(found[0].score < 0.55, "{}", found[0].score);
        assert_eq!(range(&found[0]), (1, 1));
    }

    #[test]
    fn just_under_400_kw_is_not() {
        assert!(run(&EnergyJump, &register_wh(&steps(6.4), 60)).is_empty());
    }

    #[test]
    fn the_rating_lowers_the_threshold() {
        let readings = register_wh(&steps(0.2), 60); // 22 kW implied
        assert!(run(&EnergyJump, &readings).is_empty());
        let rated = SessionContext {
            rated_power_kw: Some(11.0),
        };
        let found = run_with(&EnergyJump, &readings, &rated);
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn a_unit_mix_up_is_clear() {
        let found = run(&EnergyJump, &register_wh(&steps(1000.0), 60));
        assert!(found[0].score > 0.95 && found[0].confidence > 0.9);
    }
}
