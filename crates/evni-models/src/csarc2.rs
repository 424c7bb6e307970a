//! CSAR-C-2: a small classifier that proposes a category for each bucket of
//! a session from the bucket's neighbourhood (two buckets either side), a
//! summary of the whole session and the bucket's position. Trained on
//! simulated labelled faults of the nine physical categories; runs of
//! buckets of one category above `min_probability` become proposals.

use evni_analysis::features::{SessionFeatures, FEATURES};
use evni_analysis::window::BUCKETS;
use evni_domain::AnomalyCategory;

use crate::card::ModelCard;
use crate::mlp::Mlp;
use crate::{Model, ModelError};

pub const NAME: &str = "csar_c_2";
/// Buckets on each side of the classified one.
pub const CONTEXT: usize = 2;
const WINDOW: usize = 2 * CONTEXT + 1;
/// Inputs per bucket sample: the window, the session's mean features, position.
pub const INPUTS: usize = WINDOW * FEATURES + FEATURES + 2;
pub const LAYOUT: &str = "buckets b-2..=b+2 (12 scaled features each, zeros outside the window), \
                          per-column mean over in-sequence buckets, b/24, sequence_length/24";
/// Class 0 is "normal"; then the physical categories.
pub const NORMAL: &str = "NORMAL";

/// The categories the classifier can propose, in logit order after NORMAL.
pub fn categories() -> [AnomalyCategory; 9] {
    use AnomalyCategory::*;
    [
        KwhDecrease,
        EnergyJump,
        ZeroSession,
        EnergyPit,
        ChargingExpected,
        PowerSpike,
        MeterStuck,
        SocDecrease,
        DataGap,
    ]
}

pub fn class_names() -> Vec<String> {
    std::iter::once(NORMAL.to_string())
        .chain(categories().iter().map(|c| c.as_str().to_string()))
        .collect()
}

pub const CLASSES: usize = 10;

/// The loaded classifier.
#[derive(Debug, Clone)]
pub struct CsarC2 {
    net: Mlp,
    card: ModelCard,
    scale: [f32; FEATURES],
    min_probability: f32,
}

/// Class probabilities of each in-sequence bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketClasses {
    pub probabilities: Vec<[f32; CLASSES]>,
}

/// A category proposed for a bucket range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proposal {
    pub category: AnomalyCategory,
    pub start: usize,
    pub end: usize,
    /// Mean probability of the category over the run.
    pub probability: f64,
    pub threshold: f64,
}

impl BucketClasses {
    /// Runs of buckets whose most likely class is one category with at
    /// least `min_probability`.
    pub fn proposals(&self, min_probability: f32) -> Vec<Proposal> {
        let n = self.probabilities.len();
        runs_through(n, 0..n, min_probability, |b| {
            best_class(&self.probabilities[b], min_probability)
        })
    }
}

/// The runs of consecutive buckets (of `n`) whose best class is one
/// category, those holding at least one of `seeds` (ascending). `best` gives
/// a bucket's class (see [`best_class`]) and is asked only about the buckets
/// those runs need.
fn runs_through(
    n: usize,
    seeds: impl IntoIterator<Item = usize>,
    min_probability: f32,
    mut best: impl FnMut(usize) -> Option<(usize, f32)>,
) -> Vec<Proposal> {
    let cats = categories();
    let mut out = Vec::new();
    let mut covered = 0;
    for b in seeds.into_iter().filter(|b| *b < n) {
        if b < covered {
            continue;
        }
        let Some((k, _)) = best(b) else { continue };
        let mut same = |i: usize| best(i).is_some_and(|(k2, _)| k2 == k);
        let mut start = b;
        while start > 0 && same(start - 1) {
            start -= 1;
        }
        let mut end = b;
        while end + 1 < n && same(end + 1) {
            end += 1;
        }
        let sum: f64 = (start..=end)
            .map(|i| f64::from(best(i).map_or(0.0, |c| c.1)))
            .sum();
        out.push(Proposal {
            category: cats[k - 1],
            start,
            end,
            probability: sum / (end - start + 1) as f64,
            threshold: f64::from(min_probability),
        });
        covered = end + 1;
    }
    out
}

impl CsarC2 {
    pub fn from_parts(weights: &[u8], card: ModelCard) -> Result<Self, ModelError> {
        crate::check_card(&card, NAME, weights, INPUTS)?;
        let net = Mlp::from_safetensors(weights, card.architecture.layers.len() - 1, Vec::new())?;
        if net.sizes() != card.architecture.layers || net.outputs() != CLASSES {
            return Err(ModelError::Format(format!(
                "{NAME}: layers {:?} do not match the sidecar",
                net.sizes()
            )));
        }
        let scale = crate::scale_of(&card)?;
        let min_probability = card
            .thresholds
            .get("min_probability")
            .copied()
            .ok_or_else(|| ModelError::Format(format!("{NAME}: no threshold 'min_probability'")))?
            as f32;
        Ok(CsarC2 {
            net,
            card,
            scale,
            min_probability,
        })
    }

    pub fn net(&self) -> &Mlp {
        &self.net
    }

    pub fn min_probability(&self) -> f32 {
        self.min_probability
    }

    /// Class probabilities per bucket, for many sessions in one forward pass.
    pub fn score_batch(&self, batch: &[&SessionFeatures]) -> Vec<BucketClasses> {
        let rows: usize = batch.iter().map(|f| f.sequence_length).sum();
        let mut x = vec![0f32; rows * INPUTS];
        let mut at = 0;
        for f in batch {
            bucket_inputs(
                f,
                &self.scale,
                &mut x[at * INPUTS..(at + f.sequence_length) * INPUTS],
            );
            at += f.sequence_length;
        }
        let logits = self.net.forward_batch(&x, rows);
        let mut out = Vec::with_capacity(batch.len());
        let mut rows = logits.chunks_exact(CLASSES);
        for f in batch {
            let probabilities = rows.by_ref().take(f.sequence_length).map(softmax).collect();
            out.push(BucketClasses { probabilities });
        }
        out
    }

    pub fn score(&self, features: &SessionFeatures) -> BucketClasses {
        self.score_batch(&[features]).remove(0)
    }

    /// Proposals at the calibrated threshold.
    pub fn propose(&self, features: &SessionFeatures) -> Vec<Proposal> {
        self.score(features).proposals(self.min_probability)
    }

    /// The proposals of [`Self::propose`] whose runs hold at least one of
    /// `buckets` (ascending), classifying only the buckets needed to find
    /// those runs: around one unusual bucket that is a few rows, not all 24.
    pub fn propose_around(&self, features: &SessionFeatures, buckets: &[usize]) -> Vec<Proposal> {
        let n = features.sequence_length;
        let mean = column_means(features, &self.scale);
        let mut memo: Vec<Option<Option<(usize, f32)>>> = vec![None; n];
        let best = |b: usize| {
            *memo[b].get_or_insert_with(|| {
                let mut row = [0f32; INPUTS];
                bucket_row(features, &self.scale, &mean, b, &mut row);
                best_class(&softmax(&self.net.forward_batch(&row, 1)), self.min_probability)
            })
        };
        runs_through(n, buckets.iter().copied(), self.min_probability, best)
    }
}

/// The most likely class of a bucket when it is a category (not NORMAL)
/// with at least `min_probability`.
fn best_class(p: &[f32; CLASSES], min_probability: f32) -> Option<(usize, f32)> {
    let (k, v) = p.iter().enumerate().fold(
        (0, f32::MIN),
        |acc, (k, v)| if *v > acc.1 { (k, *v) } else { acc },
    );
    (k > 0 && v >= min_probability).then_some((k, v))
}

fn softmax(logits: &[f32]) -> [f32; CLASSES] {
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let mut p = [0f32; CLASSES];
    let mut sum = 0.0;
    for (p, l) in p.iter_mut().zip(logits) {
        *p = (l - max).exp();
        sum += *p;
    }
    for v in &mut p {
        *v /= sum;
    }
    p
}

/// One input row per in-sequence bucket of `features` into `out`.
pub(crate) fn bucket_inputs(features: &SessionFeatures, scale: &[f32; FEATURES], out: &mut [f32]) {
    let mean = column_means(features, scale);
    for (b, row) in out
        .chunks_exact_mut(INPUTS)
        .enumerate()
        .take(features.sequence_length)
    {
        bucket_row(features, scale, &mean, b, row);
    }
}

/// The scaled per-column mean over the in-sequence buckets.
fn column_means(features: &SessionFeatures, scale: &[f32; FEATURES]) -> [f32; FEATURES] {
    let n = features.sequence_length;
    let mut mean = [0f32; FEATURES];
    for b in 0..n {
        for (k, m) in mean.iter_mut().enumerate() {
            *m += features.get(b, k) * scale[k] / n as f32;
        }
    }
    mean
}

/// The input row of bucket `b`.
fn bucket_row(
    features: &SessionFeatures,
    scale: &[f32; FEATURES],
    mean: &[f32; FEATURES],
    b: usize,
    row: &mut [f32],
) {
    let n = features.sequence_length;
    row.fill(0.0);
    for w in 0..WINDOW {
        let Some(src) = (b + w).checked_sub(CONTEXT).filter(|s| *s < n) else {
            continue;
        };
        for k in 0..FEATURES {
            row[w * FEATURES + k] = features.get(src, k) * scale[k];
        }
    }
    row[WINDOW * FEATURES..WINDOW * FEATURES + FEATURES].copy_from_slice(mean);
    row[INPUTS - 2] = b as f32 / BUCKETS as f32;
    row[INPUTS - 1] = n as f32 / BUCKETS as f32;
}

impl Model for CsarC2 {
    fn card(&self) -> &ModelCard {
        &self.card
    }
}
