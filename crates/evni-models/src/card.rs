//! The JSON sidecar of a model artifact: what it is, what it reads, how it
//! was trained and how well it did on held-out data at training time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The sidecar of one model (`model.json` next to `model.safetensors`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// `csar_2` or `csar_c_2`.
    pub name: String,
    /// `autoencoder` or `classifier`.
    #[serde(rename = "type")]
    pub model_type: String,
    /// Semantic version of the artifact.
    pub version: String,
    pub framework: String,
    /// Layer sizes from input to output, and the hidden activation.
    pub architecture: Architecture,
    pub features: FeatureSpec,
    pub normalisation: Normalisation,
    /// Named decision thresholds (see each model's documentation).
    pub thresholds: BTreeMap<String, f64>,
    pub metrics: Metrics,
    /// Output classes of a classifier, in logit order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    pub training: serde_json::Value,
    pub seed: u64,
    /// SHA-256 of the safetensors file.
    pub weights_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    pub layers: Vec<usize>,
    pub hidden_activation: String,
}

/// What the model reads: `evni_analysis::features` at this version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub version: u32,
    pub buckets: usize,
    pub per_bucket: Vec<String>,
    /// How one input vector is assembled from the bucket matrix.
    pub layout: String,
    pub inputs: usize,
}

impl FeatureSpec {
    pub fn current(layout: &str, inputs: usize) -> Self {
        use evni_analysis::features::{FEATURE_NAMES, FEATURE_VERSION};
        FeatureSpec {
            version: FEATURE_VERSION,
            buckets: evni_analysis::window::BUCKETS,
            per_bucket: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            layout: layout.to_string(),
            inputs,
        }
    }
}

/// Each feature column is multiplied by its scale before the network sees
/// it (zeros stay zeros, so unknown and padded buckets stay neutral).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    pub scale: Vec<f32>,
}

/// Measured on a held-out simulated set at training time, never typed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub false_alarm_rate: f64,
    /// What the figures were measured on.
    pub evaluated_on: String,
    /// Further figures (per family, per class).
    #[serde(default)]
    pub details: BTreeMap<String, f64>,
}
