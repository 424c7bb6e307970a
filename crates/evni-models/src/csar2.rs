//! CSAR-2: an autoencoder over a session's whole bucket feature matrix
//! (24 × 12, scaled per column), trained on normal sessions only. A bucket
//! it cannot reconstruct is unlike anything normal; a run of such buckets is
//! an UNUSUAL_PATTERN candidate.
//!
//! Thresholds (sidecar): `bucket_error` — a bucket is anomalous above it;
//! `min_run_buckets` of any `run_window_buckets` consecutive buckets must be
//! anomalous for a finding (single-bucket noise is never one, and one
//! bucket of a fault that happens to look normal does not hide the rest).
//! Without `run_window_buckets` the window is `min_run_buckets` long: the
//! buckets must all be consecutive.

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
    window: usize,
}

/// Reconstruction error per bucket of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct Csar2Score {
    pub bucket_error: [f32; BUCKETS],
    pub sequence_length: usize,
    pub threshold: f32,
    /// Anomalous buckets a finding needs within `window` consecutive ones.
    pub min_run: usize,
    pub window: usize,
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
    /// The windows of `window` consecutive in-sequence buckets (the whole
    /// sequence when shorter); none when the sequence is shorter than `min_run`.
    fn windows(&self) -> impl Iterator<Item = &[f32]> {
        let n = self.sequence_length.min(BUCKETS);
        let w = self.window.min(n);
        let count = if n >= self.min_run && w > 0 { n - w + 1 } else { 0 };
        (0..count).map(move |i| &self.bucket_error[i..i + w])
    }

    /// The `min_run`-th highest error of a window: the window holds a
    /// finding exactly when this is above the threshold.
    fn window_error(&self, errors: &[f32]) -> f32 {
        let mut sorted = [0f32; BUCKETS];
        let sorted = &mut sorted[..errors.len()];
        sorted.copy_from_slice(errors);
        sorted.sort_unstable_by(|a, b| b.total_cmp(a));
        sorted[self.min_run.clamp(1, errors.len()) - 1]
    }

    /// The highest threshold at which a finding would still exist: the
    /// session's distance from normal (comparable with `threshold`).
    pub fn session_error(&self) -> f32 {
        self.windows().map(|w| self.window_error(w)).fold(0.0, f32::max)
    }

    /// `session_error / threshold`: below 1 is normal.
    pub fn ratio(&self) -> f64 {
        f64::from(self.session_error()) / f64::from(self.threshold.max(f32::MIN_POSITIVE))
    }

    /// Findings: the windows holding one, merged where they overlap or
    /// touch, each trimmed to its first and last anomalous bucket.
    pub fn runs(&self) -> Vec<Run> {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let w = self.window.min(self.sequence_length);
        for (i, errors) in self.windows().enumerate() {
            if self.window_error(errors) <= self.threshold {
                continue;
            }
            let above = |b: &usize| self.bucket_error[*b] > self.threshold;
            let (Some(start), Some(end)) = ((i..i + w).find(above), (i..i + w).rev().find(above)) else {
                continue;
            };
            match spans.last_mut() {
                Some(last) if start <= last.1 + 1 => last.1 = last.1.max(end),
                _ => spans.push((start, end)),
            }
        }
        spans
            .into_iter()
            .map(|(start, end)| {
                let peak = self.bucket_error[start..=end].iter().copied().fold(0.0, f32::max);
                Run {
                    start,
                    end,
                    peak_ratio: f64::from(peak) / f64::from(self.threshold.max(f32::MIN_POSITIVE)),
                }
            })
            .collect()
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
        let min_run = (threshold("min_run_buckets")? as usize).max(1);
        let window = card
            .thresholds
            .get("run_window_buckets")
            .map_or(min_run, |w| (*w as usize).max(min_run));
        Ok(Csar2 {
            net,
            scale,
            bucket_threshold,
            min_run,
            window,
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
            window: self.window,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn score(high: &[usize], sequence_length: usize) -> Csar2Score {
        let mut bucket_error = [0.01; BUCKETS];
        for b in high {
            bucket_error[*b] = 0.2 + *b as f32 / 100.0;
        }
        Csar2Score {
            bucket_error,
            sequence_length,
            threshold: 0.1,
            min_run: 3,
            window: 4,
        }
    }

    fn spans(s: &Csar2Score) -> Vec<(usize, usize)> {
        s.runs().iter().map(|r| (r.start, r.end)).collect()
    }

    #[test]
    fn three_of_four_buckets_make_a_finding_one_normal_bucket_does_not_hide_it() {
        let s = score(&[5, 6, 8, 9, 11, 12], 24);
        assert_eq!(spans(&s), vec![(5, 12)]);
        assert!((s.runs()[0].peak_ratio - 3.2).abs() < 1e-6);
        assert!(s.ratio() > 1.0);
    }

    #[test]
    fn scattered_buckets_are_no_finding() {
        for high in [&[3, 4][..], &[2, 5, 8, 11], &[20]] {
            let s = score(high, 24);
            assert!(s.runs().is_empty(), "{high:?}");
            assert!(s.ratio() < 1.0);
        }
    }

    #[test]
    fn separate_findings_stay_separate() {
        let s = score(&[2, 3, 4, 15, 16, 17], 24);
        assert_eq!(spans(&s), vec![(2, 4), (15, 17)]);
    }

    #[test]
    fn only_in_sequence_buckets_count() {
        // A short session: its window is the whole sequence.
        assert_eq!(spans(&score(&[0, 1, 2], 3)), vec![(0, 2)]);
        assert!(score(&[0, 1], 2).runs().is_empty());
        assert!(score(&[10, 11, 12], 11).runs().is_empty());
    }

    #[test]
    fn without_a_window_the_buckets_must_be_consecutive() {
        let s = Csar2Score {
            window: 3,
            ..score(&[5, 6, 8, 9, 10], 24)
        };
        assert_eq!(spans(&s), vec![(8, 10)]);
    }
}
