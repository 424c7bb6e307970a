//! The deterministic detectors of analysis.md §3, one module each.

mod charging_expected;
mod data_gap;
mod energy_jump;
mod energy_pit;
mod kwh_decrease;
mod meter_stuck;
mod power_spike;
mod soc_decrease;
mod zero_session;

use evni_domain::{Anomaly, AnomalyCategory, BucketRange, Detector, Micros};

use crate::series::{Bucket, Event, Series};
use crate::SessionContext;

pub use charging_expected::ChargingExpected;
pub use data_gap::DataGap;
pub use energy_jump::EnergyJump;
pub use energy_pit::EnergyPit;
pub use kwh_decrease::KwhDecrease;
pub use meter_stuck::MeterStuck;
pub use power_spike::PowerSpike;
pub use soc_decrease::SocDecrease;
pub use zero_session::ZeroSession;

/// A physical rule over the prepared series.
pub trait Rule: Sync {
    fn category(&self) -> AnomalyCategory;

    /// Appends what the rule finds to `out` and returns how close the
    /// session came to the rule's threshold: 0 far away, 1 reached. The
    /// verdict turns the closest approach into the normality score.
    fn detect(&self, series: &Series, context: &SessionContext, out: &mut Vec<Anomaly>) -> f64;
}

/// Every rule, in output order.
pub static ALL: [&dyn Rule; 9] = [
    &KwhDecrease,
    &EnergyJump,
    &ZeroSession,
    &EnergyPit,
    &ChargingExpected,
    &PowerSpike,
    &MeterStuck,
    &SocDecrease,
    &DataGap,
];

/// A rule's finding, with evidence timestamps `times` (first, last reading).
fn finding(
    series: &Series,
    category: AnomalyCategory,
    score: f64,
    confidence: f64,
    buckets: (usize, usize),
    times: (Micros, Micros),
) -> Anomaly {
    Anomaly {
        category,
        score: score.clamp(0.0, 1.0),
        confidence: confidence.clamp(0.0, 1.0),
        bucket_range: BucketRange {
            start_unit: buckets.0 as u32,
            end_unit: buckets.1 as u32,
        },
        time_range: Some(series.time_range(times.0, times.1)),
        detector: Detector::Rule,
    }
}

/// Events of one kind, merged where they touch adjacent buckets, with the
/// bucket the last of them ended in.
fn event_spans<'s>(
    series: &'s Series<'_>,
    kind: fn(&Bucket) -> Option<Event>,
) -> impl Iterator<Item = (Event, usize)> + 's {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < series.sequence_length {
            let Some(mut span) = kind(&series.buckets[i]) else {
                i += 1;
                continue;
            };
            let mut end = i;
            i += 1;
            while i < series.sequence_length {
                match kind(&series.buckets[i]) {
                    Some(next) if next.from_bucket <= end + 1 => {
                        next.merge_into_event(&mut span);
                        end = i;
                        i += 1;
                    }
                    _ => break,
                }
            }
            return Some((span, end));
        }
        None
    })
}

/// Readings in buckets `from..=to`: a count of evidence.
fn readings_in(series: &Series, from: usize, to: usize) -> f64 {
    series.buckets[from..=to].iter().map(|b| b.readings as f64).sum()
}

#[cfg(test)]
pub(crate) mod test_support;
