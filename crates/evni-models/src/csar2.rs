//! CSAR-2: an autoencoder over a session's whole bucket feature matrix
//! (24 × 12, scaled per column), trained on normal sessions only. A bucket
//! it cannot reconstruct is unlike anything normal; a run of such buckets is
//! an UNUSUAL_PATTERN candidate.
//!
//! Thresholds (sidecar): `bucket_error` — a bucket is anomalous above it;
//! `min_run_buckets` — how many consecutive anomalous buckets make a finding
//! (single-bucket noise is never one).

use evni_analysis::features::{SessionFeatures, FEATURES, INPUTS};
use evni_analysis::window::BUCKETS;

use crate::card::ModelCard;
use crate::mlp::Mlp;
use crate::{Model, ModelError};

pub const NAME: &str = "csar_2";
pub const LAYOUT: &str = "row-major 24 buckets x 12 features, each column times normalisation.scale";
/// The bottleneck (layer index) is linear.
pub(crate) const BOTTLENECK_LAYER: usize = 1;

/// The loaded autoencoder.
#[derive(Debug, Clone)]
pub struct Csar2 {
    net: Mlp,
    card: ModelCard,
    scale: [f32; FEATURES],
    bucket_threshold: f32,
    min_run: usize,
}

/// Reconstruction error per bucket of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct Csar2Score {
    pub bucket_error: [f32; BUCKETS],
    pub sequence_length: usize,
    pub threshold: f32,
    pub min_run: usize,
}

/// A run of anomalous buckets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    pub start: usize,
    pub end: usize,
    /// Highest bucket error in the run over the threshold.
    pub peak_ratio: f64,
}

impl Csar2Score {
    /// The highest threshold at which a finding would still exist: the
    /// session's distance from normal (comparable with `threshold`).
    pub fn session_error(&self) -> f32 {
        let n = self.sequence_length;
        if n < self.min_run {
            return 0.0;
        }
        (0..=n - self.min_run)
            .map(|i| {
                self.bucket_error[i..i + self.min_run]
                    .iter()
                    .copied()
                    .fold(f32::INFINITY, f32::min)
            })
            .fold(0.0, f32::max)
    }

    /// `session_error / threshold`: below 1 is normal.
    pub fn ratio(&self) -> f64 {
        f64::from(self.session_error()) / f64::from(self.threshold.max(f32::MIN_POSITIVE))
    }

    /// Runs of at least `min_run` buckets above the threshold.
    pub fn runs(&self) -> Vec<Run> {
        let mut out = Vec::new();
        let mut i = 0;
        let n = self.sequence_length;
        while i < n {
            if self.bucket_error[i] <= self.threshold {
                i += 1;
                continue;
            }
            let start = i;
            while i < n && self.bucket_error[i] > self.threshold {
                i += 1;
            }
            if i - start >= self.min_run {
                let peak = self.bucket_error[start..i].iter().copied().fold(0.0, f32::max);
                out.push(Run {
                    start,
                    end: i - 1,
                    peak_ratio: f64::from(peak) / f64::from(self.threshold.max(f32::MIN_POSITIVE)),
                });
            }
        }
        out
    }
}

impl Csar2 {
    /// Builds the model from safetensors bytes and its sidecar.
    pub fn from_parts(weights: &[u8], card: ModelCard) -> Result<Self, ModelError> {
        crate::check_card(&card, NAME, weights, INPUTS)?;
        let net = Mlp::from_safetensors(
            weights,
            card.architecture.layers.len() - 1,
            vec![BOTTLENECK_LAYER],
        )?;
        if net.sizes() != card.architecture.layers || net.outputs() != INPUTS {
            return Err(ModelError::Format(format!(
                "{NAME}: layers {:?} do not match the sidecar",
                net.sizes()
            )));
        }
        let scale = crate::scale_of(&card)?;
        let threshold = |key: &str| {
            card.thresholds
                .get(key)
                .copied()
                .ok_or_else(|| ModelError::Format(format!("{NAME}: no threshold '{key}'")))
        };
        let bucket_threshold = threshold("bucket_error")? as f32;
        let min_run = threshold("min_run_buckets")? as usize;
        Ok(Csar2 {
            net,
            scale,
            bucket_threshold,
            min_run: min_run.max(1),
            card,
        })
    }

    pub fn net(&self) -> &Mlp {
        &self.net
    }

    /// The network input of a session: features times the column scales.
    pub fn input(&self, features: &SessionFeatures, out: &mut [f32]) {
        scaled_input(features, &self.scale, out);
    }

    /// Scores sessions in one batched forward pass.
    pub fn score_batch(&self, batch: &[&SessionFeatures]) -> Vec<Csar2Score> {
        let mut x = vec![0f32; batch.len() * INPUTS];
        for (f, row) in batch.iter().zip(x.chunks_exact_mut(INPUTS)) {
            self.input(f, row);
        }
        let y = self.net.forward_batch(&x, batch.len());
        batch
            .iter()
            .zip(x.chunks_exact(INPUTS).zip(y.chunks_exact(INPUTS)))
            .map(|(f, (x, y))| self.score_of(f.sequence_length, x, y))
            .collect()
    }

    pub fn score(&self, features: &SessionFeatures) -> Csar2Score {
        self.score_batch(&[features]).remove(0)
    }

    fn score_of(&self, sequence_length: usize, x: &[f32], y: &[f32]) -> Csar2Score {
        let mut bucket_error = [0f32; BUCKETS];
        bucket_errors(x, y, sequence_length, &mut bucket_error);
        Csar2Score {
            bucket_error,
            sequence_length,
            threshold: self.bucket_threshold,
            min_run: self.min_run,
        }
    }
}

/// Mean squared error of each in-sequence bucket.
pub(crate) fn bucket_errors(x: &[f32], y: &[f32], sequence_length: usize, out: &mut [f32; BUCKETS]) {
    for (b, slot) in out.iter_mut().enumerate().take(sequence_length) {
        let (xs, ys) = (
            &x[b * FEATURES..(b + 1) * FEATURES],
            &y[b * FEATURES..(b + 1) * FEATURES],
        );
        *slot = xs.iter().zip(ys).map(|(a, b)| (a - b) * (a - b)).sum::<f32>() / FEATURES as f32;
    }
}

pub(crate) fn scaled_input(features: &SessionFeatures, scale: &[f32; FEATURES], out: &mut [f32]) {
    for (i, (o, v)) in out.iter_mut().zip(features.values.iter()).enumerate() {
        *o = v * scale[i % FEATURES];
    }
}

impl Model for Csar2 {
    fn card(&self) -> &ModelCard {
        &self.card
    }
}
