//! ZERO_SESSION: the EV was connected but (almost) nothing was delivered.

use evni_domain::{Anomaly, AnomalyCategory, Micros, MICROS_PER_MINUTE};

use super::{finding, Rule};
use crate::score::{approach, beyond, confidence, severity};
use crate::series::{Series, SOC_RISE_POINTS};
use crate::SessionContext;

/// Less than this over the window is "nothing".
const MAX_KWH: f64 = 0.1;
/// Only sessions observed at least this long can be judged.
const MIN_SPAN: Micros = 10 * MICROS_PER_MINUTE;

pub struct ZeroSession;

impl Rule for ZeroSession {
    fn category(&self) -> AnomalyCategory {
        AnomalyCategory::ZeroSession
    }

    fn detect(&self, series: &Series, _: &SessionContext, out: &mut Vec<Anomaly>) -> f64 {
        // Without a register or power there is no measure of delivery.
        if series.register.readings < 2 && series.power_samples < 2 {
            return 0.0;
        }
        let span = series.last_ts - series.t0;
        let delivered = series.delivered_kwh.max(0.0);
        // A rising SoC shows energy arrived whatever the meter says.
        let soc_rise = match (series.soc.first, series.soc.last) {
            (Some(first), Some(last)) => last - first,
            _ => 0.0,
        };
        if span >= MIN_SPAN && delivered < MAX_KWH && soc_rise < SOC_RISE_POINTS {
            let nothing = beyond((MAX_KWH - delivered) / MAX_KWH, 0.3);
            let long = beyond((span - MIN_SPAN) as f64 / MIN_SPAN as f64, 1.0);
            out.push(finding(
                series,
                self.category(),
                severity(nothing * long),
                confidence(series.timestamps as f64 / 2.0),
                (0, series.sequence_length - 1),
                (series.t0, series.last_ts),
            ));
        }
        let little = approach(MAX_KWH, delivered.max(1e-6));
        little.min(approach(span as f64, MIN_SPAN as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    #[test]
    fn nothing_over_two_hours_is_a_zero_session_over_the_whole_window() {
        let values = vec![5_000_000.0; 25]; // 5-min readings, 2 h
        let found = run(&ZeroSession, &register_wh(&values, 300));
        assert_eq!(found.len(), 1);
        assert_eq!(range(&found[0]), (0, 8));
        assert!(found[0].score > 0.9);
    }

    #[test]
    fn the_edges_of_energy_and_time() {
        // 0.09 kWh over 30 min: flagged; 0.101 kWh: not.
        let few = |wh: f64| (0..7).map(|i| 1000.0 + wh * i as f64 / 6.0).collect::<Vec<_>>();
        assert_eq!(run(&ZeroSession, &register_wh(&few(90.0), 300)).len(), 1);
        assert!(run(&ZeroSession, &register_wh(&few(101.0), 300)).is_empty());
        // Nothing over 9 min is too short to judge; over 10 min it starts.
        assert!(run(&ZeroSession, &register_wh(&[1000.0; 10], 60)).is_empty());
        let edge = run(&ZeroSession, &register_wh(&[1000.0; 11], 60));
        assert_eq!(edge.len(), 1);
        assert!(edge[0].score < 0.55);
    }
}
