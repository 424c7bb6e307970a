//! The learned models of analysis.md §5: CSAR-2, an autoencoder of normal
//! sessions whose per-bucket reconstruction error gives UNUSUAL_PATTERN and
//! the normality score, and CSAR-C-2, a classifier proposing categories for
//! bucket ranges. Both read `evni_analysis::features`.
//!
//! Training uses candle ([`train`]); inference is plain Rust over the same
//! weights ([`mlp`]), so the [`Model`] API carries no framework types.
//! Artifacts are a safetensors file plus a JSON sidecar ([`ModelCard`]).
//! The base models under `models/` are embedded at build time.

pub mod card;
pub mod combine;
pub mod csar2;
pub mod csarc2;
pub mod data;
pub mod fine_tune;
pub mod fleet;
pub mod inject;
pub mod mlp;
pub mod train;

use std::path::Path;

use evni_analysis::features::{self, SessionFeatures, FEATURES};
use evni_analysis::{Examination, Outcome, SessionContext};
use evni_domain::Reading;
use thiserror::Error;

pub use card::ModelCard;
pub use combine::{combine, ModelFindings};
pub use csar2::{Csar2, Csar2Score};
pub use csarc2::{BucketClasses, CsarC2, Proposal};

/// The rules' name in inference history.
pub const RULES_ID: &str = "rules-1";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const CARD_FILE: &str = "model.json";

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("model format: {0}")]
    Format(String),
    #[error("model i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("training data: {0}")]
    Data(String),
    #[error("training: {0}")]
    Training(String),
    #[error("the base models were not embedded at build time (run `evni train` to create models/)")]
    NoBaseModels,
}

/// What every model tells about itself; inference lives on the concrete
/// types (`score_batch`), whose outputs differ.
pub trait Model: Send + Sync {
    fn card(&self) -> &ModelCard;

    fn name(&self) -> &str {
        &self.card().name
    }

    fn version(&self) -> &str {
        &self.card().version
    }

    /// `name-version`, as recorded in inference history.
    fn id(&self) -> String {
        format!("{}-{}", self.name(), self.version())
    }
}

/// The models the service analyses with.
#[derive(Debug, Clone)]
pub struct Models {
    pub csar2: Csar2,
    pub csarc2: CsarC2,
}

#[cfg(evni_base_models)]
mod base {
    macro_rules! artifact {
        ($path:literal) => {
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/", $path))
        };
    }
    pub const CSAR2_WEIGHTS: &[u8] = artifact!("csar_2/model.safetensors");
    pub const CSAR2_CARD: &[u8] = artifact!("csar_2/model.json");
    pub const CSARC2_WEIGHTS: &[u8] = artifact!("csar_c_2/model.safetensors");
    pub const CSARC2_CARD: &[u8] = artifact!("csar_c_2/model.json");
}

impl Models {
    /// The base models shipped with this build.
    #[cfg(evni_base_models)]
    pub fn base() -> Result<Models, ModelError> {
        Ok(Models {
            csar2: Csar2::from_parts(base::CSAR2_WEIGHTS, parse_card(base::CSAR2_CARD)?)?,
            csarc2: CsarC2::from_parts(base::CSARC2_WEIGHTS, parse_card(base::CSARC2_CARD)?)?,
        })
    }

    #[cfg(not(evni_base_models))]
    pub fn base() -> Result<Models, ModelError> {
        Err(ModelError::NoBaseModels)
    }

    /// Loads `dir/csar_2/` and `dir/csar_c_2/`.
    pub fn load_dir(dir: &Path) -> Result<Models, ModelError> {
        let (w, c) = read_artifact(&dir.join(csar2::NAME))?;
        let csar2 = Csar2::from_parts(&w, c)?;
        let (w, c) = read_artifact(&dir.join(csarc2::NAME))?;
        Ok(Models {
            csar2,
            csarc2: CsarC2::from_parts(&w, c)?,
        })
    }

    /// The inference-history name: rules and model versions used.
    pub fn id(&self) -> String {
        format!("{RULES_ID}+{}+{}", self.csar2.id(), self.csarc2.id())
    }

    /// Rules plus models over one session (`readings` as for
    /// `evni_analysis::analyze`).
    pub fn analyze(&self, readings: &[Reading], context: &SessionContext) -> Outcome {
        self.examine(readings, context).outcome
    }

    /// `evni_analysis::examine` with the models' findings in the outcome.
    pub fn examine(&self, readings: &[Reading], context: &SessionContext) -> Examination {
        let mut one = self.examine_batch(&[(readings, context)]);
        one.pop().expect("one examination per session")
    }

    /// [`Self::examine`] of several sessions, with one CSAR-2 forward pass
    /// for all that need one (a batch shares each weight read, see
    /// [`mlp::Mlp::forward_batch`]); the results do not depend on the batch.
    pub fn examine_batch(&self, sessions: &[(&[Reading], &SessionContext)]) -> Vec<Examination> {
        let mut out: Vec<Examination> = sessions
            .iter()
            .map(|(readings, context)| evni_analysis::examine(readings, context))
            .collect();
        // The models add nothing where a rule names the fault (combine.rs),
        // so only sessions the rules found normal need the inference.
        let wanted: Vec<usize> = (0..out.len())
            .filter(|&i| rules_found_nothing(&out[i].outcome) && out[i].features.is_some())
            .collect();
        let scores = {
            let features: Vec<&SessionFeatures> =
                wanted.iter().filter_map(|&i| out[i].features.as_ref()).collect();
            self.csar2.score_batch(&features)
        };
        let mut scores = wanted.into_iter().zip(scores).peekable();
        for (i, (examination, (readings, _))) in out.iter_mut().zip(sessions).enumerate() {
            let window = evni_analysis::window::window(readings);
            let outcome = std::mem::replace(&mut examination.outcome, Outcome::Pending);
            examination.outcome = match scores.next_if(|(w, _)| *w == i) {
                Some((_, csar2)) => {
                    let features = examination
                        .features
                        .as_ref()
                        .expect("scored sessions have features");
                    combine(outcome, self.scores_of(features, csar2).findings(), window)
                }
                None if matches!(&outcome, Outcome::Analyzed(_)) => {
                    combine(outcome, ModelFindings::default(), window)
                }
                None => outcome,
            };
        }
        out
    }

    /// Both models' raw outputs for one session; `None` when it has no features.
    pub fn score(&self, readings: &[Reading], context: &SessionContext) -> Option<SessionScores> {
        let features = features::extract_from_readings(readings, context)?;
        Some(self.scores_of(&features, self.csar2.score(&features)))
    }

    fn scores_of(&self, features: &SessionFeatures, csar2: Csar2Score) -> SessionScores {
        // A proposal counts only where CSAR-2 finds a bucket unusual
        // (combine.rs): the classifier looks only around those buckets.
        let unusual: Vec<usize> = (0..csar2.bucket_error.len())
            .filter(|b| csar2.bucket_error[*b] > csar2.threshold)
            .collect();
        let proposals = if unusual.is_empty() {
            Vec::new()
        } else {
            self.csarc2.propose_around(features, &unusual)
        };
        SessionScores { csar2, proposals }
    }
}

fn rules_found_nothing(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Analyzed(a) if a.anomalies.is_empty())
}

/// What both models said about one session.
#[derive(Debug, Clone)]
pub struct SessionScores {
    pub csar2: Csar2Score,
    pub proposals: Vec<Proposal>,
}

impl SessionScores {
    pub fn findings(&self) -> ModelFindings<'_> {
        ModelFindings {
            csar2: Some(&self.csar2),
            proposals: &self.proposals,
        }
    }
}

/// Reads `model.safetensors` and `model.json` from an artifact directory.
pub fn read_artifact(dir: &Path) -> Result<(Vec<u8>, ModelCard), ModelError> {
    let weights = std::fs::read(dir.join(WEIGHTS_FILE))?;
    let card = parse_card(&std::fs::read(dir.join(CARD_FILE))?)?;
    Ok((weights, card))
}

/// Writes an artifact directory.
pub fn write_artifact(dir: &Path, weights: &[u8], card: &ModelCard) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(WEIGHTS_FILE), weights)?;
    let mut json = serde_json::to_vec_pretty(card).map_err(|e| ModelError::Format(e.to_string()))?;
    json.push(b'\n');
    std::fs::write(dir.join(CARD_FILE), json)?;
    Ok(())
}

fn parse_card(bytes: &[u8]) -> Result<ModelCard, ModelError> {
    serde_json::from_slice(bytes).map_err(|e| ModelError::Format(format!("sidecar: {e}")))
}

/// The sidecar matches the model, the feature version and the weights.
fn check_card(card: &ModelCard, name: &str, weights: &[u8], inputs: usize) -> Result<(), ModelError> {
    if card.name != name {
        return Err(ModelError::Format(format!(
            "expected {name}, the sidecar says {}",
            card.name
        )));
    }
    if card.features.version != features::FEATURE_VERSION || card.features.inputs != inputs {
        return Err(ModelError::Format(format!(
            "{name} reads features v{} ({} inputs); this build has v{} ({inputs})",
            card.features.version,
            card.features.inputs,
            features::FEATURE_VERSION
        )));
    }
    let hash = mlp::sha256_hex(weights);
    if hash != card.weights_sha256 {
        return Err(ModelError::Format(format!(
            "{name}: weights sha256 {hash} differs from the sidecar"
        )));
    }
    Ok(())
}

fn scale_of(card: &ModelCard) -> Result<[f32; FEATURES], ModelError> {
    card.normalisation
        .scale
        .as_slice()
        .try_into()
        .map_err(|_| ModelError::Format(format!("{}: normalisation needs {FEATURES} scales", card.name)))
}
