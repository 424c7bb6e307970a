//! Training the base models from simulated sessions, reproducibly: the
//! seed fixes the simulated data, the weight initialisation and the batch
//! order, so the same seed gives the same weights hash.
//!
//! Data sets (all simulated, disjoint seeds derived from the training seed):
//! a training set, a calibration set for the thresholds and an evaluation
//! set for the sidecar metrics.

mod csar2;
mod csarc2;
mod net;

use evni_analysis::features::{SessionFeatures, FEATURES};
use serde::{Deserialize, Serialize};

pub use csar2::train_csar2;
pub use csarc2::train_csarc2;

/// Artifact version written by this code.
pub const VERSION: &str = "2.0.0";
pub const FRAMEWORK: &str = "candle 0.11.1 (training); plain-Rust inference";

/// Seed offsets of the calibration and evaluation sets.
const CALIBRATION_SEED: u64 = 1_000_003;
const EVALUATION_SEED: u64 = 2_000_029;

/// How to train one model. Recorded in the sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub seed: u64,
    pub train_sessions: usize,
    pub calibration_sessions: usize,
    pub eval_sessions: usize,
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f64,
    /// Hidden layer sizes.
    pub hidden: Vec<usize>,
    /// CSAR-2: share of held-out normal sessions allowed to alarm.
    pub target_false_alarm_rate: f64,
    /// CSAR-2: buckets above the threshold that make a finding...
    pub min_run_buckets: usize,
    /// ...within this many consecutive buckets.
    pub run_window_buckets: usize,
    /// CSAR-2: share of training sessions also added with a long idle tail.
    pub idle_tail_share: f64,
    /// CSAR-2: share of training sessions also added with a delayed start.
    pub delayed_start_share: f64,
    /// Size of the simulated station pool of every data set: a station's
    /// meter (interval, measurands, load management) shapes its sessions,
    /// so a small pool teaches the quirks of a few stations.
    pub stations: usize,
    /// Upper bound of the per-column input scales: a column that is rarely
    /// far from zero (switches, phase imbalance, register against power)
    /// gets up to this weight, so that a fault showing only there still
    /// stands out of the reconstruction error.
    pub max_scale: f64,
    /// Threads simulating data (does not change the result).
    #[serde(skip)]
    pub threads: usize,
}

impl TrainConfig {
    /// The configuration of the shipped CSAR-2.
    pub fn csar2(seed: u64) -> Self {
        TrainConfig {
            seed,
            train_sessions: 16_000,
            // Enough that the threshold's quantile rests on tens of sessions.
            calibration_sessions: 16_000,
            eval_sessions: 4_000,
            epochs: 40,
            batch: 128,
            learning_rate: 2e-3,
            hidden: vec![192, 32, 192],
            target_false_alarm_rate: 0.002,
            min_run_buckets: 3,
            run_window_buckets: 4,
            idle_tail_share: 0.3,
            delayed_start_share: 0.15,
            stations: 2000,
            max_scale: 10.0,
            threads: crate::data::default_threads(),
        }
    }

    /// The configuration of the shipped CSAR-C-2.
    pub fn csarc2(seed: u64) -> Self {
        TrainConfig {
            seed,
            train_sessions: 8_000,
            calibration_sessions: 2_000,
            eval_sessions: 2_000,
            epochs: 12,
            batch: 256,
            learning_rate: 2e-3,
            hidden: vec![64, 32],
            target_false_alarm_rate: 0.0025,
            min_run_buckets: 0,
            run_window_buckets: 0,
            idle_tail_share: 0.0,
            delayed_start_share: 0.0,
            stations: 2000,
            max_scale: 4.0,
            threads: crate::data::default_threads(),
        }
    }

    /// A small configuration for tests: seconds, not minutes.
    pub fn tiny(mut self) -> Self {
        self.train_sessions = 200;
        self.calibration_sessions = 100;
        self.eval_sessions = 60;
        self.epochs = 2;
        self
    }
}

/// Per-column scales: one over the root mean square of the column over
/// in-sequence buckets, bounded (`0.5..=max_scale`) so that a rarely
/// non-zero column neither vanishes nor dominates.
pub(crate) fn column_scales<'a>(
    samples: impl Iterator<Item = &'a SessionFeatures>,
    max_scale: f64,
) -> Vec<f32> {
    let mut sum = [0f64; FEATURES];
    let mut n = 0usize;
    for f in samples {
        for b in 0..f.sequence_length {
            for (k, s) in sum.iter_mut().enumerate() {
                *s += f64::from(f.get(b, k)).powi(2);
            }
            n += 1;
        }
    }
    sum.iter()
        .map(|s| {
            let rms = (s / n.max(1) as f64).sqrt();
            (1.0 / rms.max(1e-9)).clamp(0.5, max_scale.max(0.5)) as f32
        })
        .collect()
}

/// Linear-interpolated quantile of `values` (sorted in place).
pub(crate) fn quantile(values: &mut [f32], q: f64) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable_by(f32::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    values[lo] + (values[hi] - values[lo]) * (pos - lo as f64) as f32
}

/// F1 from precision and recall.
pub(crate) fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

pub(crate) fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
