//! The session verdict (analysis.md §4): score and confidence either way.

use evni_domain::Anomaly;

use crate::score::confidence;
use crate::series::Series;

/// The normality score spans this range: low even for a session that came
/// close to a threshold, so that only detections cross the 0.5 cut.
const NORMAL_FLOOR: f64 = 0.02;
const NORMAL_SPAN: f64 = 0.43;

/// `(anomaly_score, anomaly_confidence)` of an analysed window. `closeness`
/// is the closest any rule came to its threshold (0..1).
pub fn verdict(series: &Series, anomalies: &[Anomaly], closeness: f64) -> (f64, f64) {
    let top = anomalies.iter().max_by(|a, b| a.score.total_cmp(&b.score));
    match top {
        Some(top) => (top.score, top.confidence),
        // Squared so that ordinary noise (half-way to a threshold) stays low.
        None => (
            NORMAL_FLOOR + NORMAL_SPAN * closeness.clamp(0.0, 1.0).powi(2),
            normal_confidence(series),
        ),
    }
}

/// How sure "normal" is: more timestamps, more of the window covered and
/// more independent signals (register, power, SoC) make it surer.
fn normal_confidence(series: &Series) -> f64 {
    let known = series.buckets[..series.sequence_length]
        .iter()
        .filter(|b| b.readings > 0)
        .count();
    let coverage = known as f64 / series.sequence_length as f64;
    let signals = [
        series.register.readings > 1,
        series.power_samples > 1,
        series.soc.readings > 1,
    ]
    .into_iter()
    .filter(|present| *present)
    .count() as f64;
    confidence((series.timestamps as f64).sqrt() * signals * coverage)
}
