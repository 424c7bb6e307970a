//! Training CSAR-C-2 on simulated labelled faults of the nine physical
//! categories, calibrating its proposal threshold on held-out sessions and
//! measuring it (alone, and combined with the rules) on another set.

use std::collections::BTreeMap;

use candle_core::{Device, Tensor};
use evni_analysis::eval::Evaluation;
use evni_analysis::features::{SessionFeatures, FEATURES};
use evni_sim::SimConfig;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::net::{fit, Net};
use super::{column_scales, f1, ratio, TrainConfig, CALIBRATION_SEED, EVALUATION_SEED, FRAMEWORK, VERSION};
use crate::card::{Architecture, FeatureSpec, Metrics, ModelCard, Normalisation};
use crate::csarc2::{self, bucket_inputs, categories, CsarC2, Proposal, CLASSES, INPUTS};
use crate::data::{self, Sample};
use crate::mlp::sha256_hex;
use crate::ModelError;

/// Candidate proposal thresholds, lowest first.
const GRID: [f32; 12] = [
    0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999,
];
/// Proposals must be at least this precise on the calibration set.
const MIN_PRECISION: f64 = 0.95;

pub fn train_csarc2(config: &TrainConfig) -> Result<(CsarC2, Vec<u8>), ModelError> {
    let sessions = |sessions, seed, prefix: &str| -> Result<Vec<(SessionFeatures, Sample)>, ModelError> {
        let sim = SimConfig {
            sessions,
            seed,
            fault_share: 0.8,
            id_prefix: prefix.to_string(),
            stations: config.stations,
            ..SimConfig::default()
        };
        Ok(data::simulate(&sim, config.threads)?
            .into_iter()
            .filter_map(|s| s.features().map(|f| (f, s)))
            .collect())
    };
    // A seed stream apart from CSAR-2's training data.
    let train = sessions(config.train_sessions, config.seed + 7, "TRAINC")?;
    let scale: [f32; FEATURES] = column_scales(train.iter().map(|(f, _)| f), config.max_scale)
        .try_into()
        .map_err(|_| ModelError::Training("scales".into()))?;
    let (x, y) = bucket_samples(&train, &scale);

    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let sizes: Vec<usize> = std::iter::once(INPUTS)
        .chain(config.hidden.iter().copied())
        .chain(std::iter::once(CLASSES))
        .collect();
    let net = Net::init(&sizes, Vec::new(), &mut rng)?;
    let loss = fit(&net, &x, INPUTS, config, &mut rng, |logits, _, rows| {
        let targets: Vec<u32> = rows.iter().map(|r| y[*r]).collect();
        let targets = Tensor::from_vec(targets, rows.len(), &Device::Cpu)?;
        candle_nn::loss::cross_entropy(logits, &targets)
    })?;
    let mlp = net.to_mlp()?;
    let weights = mlp.to_safetensors()?;
    let mut card = ModelCard {
        name: csarc2::NAME.into(),
        model_type: "classifier".into(),
        version: VERSION.into(),
        framework: FRAMEWORK.into(),
        architecture: Architecture {
            layers: sizes,
            hidden_activation: "relu".into(),
        },
        features: FeatureSpec::current(csarc2::LAYOUT, INPUTS),
        normalisation: Normalisation {
            scale: scale.to_vec(),
        },
        thresholds: BTreeMap::from([("min_probability".into(), 0.5)]),
        metrics: Metrics {
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
            false_alarm_rate: 0.0,
            evaluated_on: String::new(),
            details: BTreeMap::new(),
        },
        classes: csarc2::class_names(),
        training: serde_json::to_value(config).map_err(|e| ModelError::Training(e.to_string()))?,
        seed: config.seed,
        weights_sha256: sha256_hex(&weights),
    };
    let provisional = CsarC2::from_parts(&weights, card.clone())?;

    let calibration = sessions(
        config.calibration_sessions,
        config.seed + CALIBRATION_SEED,
        "CALC",
    )?;
    let probabilities = classes(&provisional, &calibration);
    let threshold = GRID
        .iter()
        .copied()
        .find(|t| {
            let c = count(&calibration, &probabilities, *t);
            ratio(c.true_proposals, c.proposals) >= MIN_PRECISION
                && ratio(c.clean_alarms, c.clean) <= config.target_false_alarm_rate
        })
        .unwrap_or(GRID[GRID.len() - 1]);
    card.thresholds
        .insert("min_probability".into(), f64::from(threshold));
    let calibrated = CsarC2::from_parts(&weights, card.clone())?;

    let eval = sessions(config.eval_sessions, config.seed + EVALUATION_SEED, "EVALC")?;
    card.metrics = measure(&calibrated, &eval, loss);
    Ok((CsarC2::from_parts(&weights, card)?, weights))
}

/// One row per in-sequence bucket; its class is the category of the label
/// covering it, else NORMAL.
fn bucket_samples(samples: &[(SessionFeatures, Sample)], scale: &[f32; FEATURES]) -> (Vec<f32>, Vec<u32>) {
    let cats = categories();
    let rows: usize = samples.iter().map(|(f, _)| f.sequence_length).sum();
    let mut x = vec![0f32; rows * INPUTS];
    let mut y = Vec::with_capacity(rows);
    let mut at = 0;
    for (f, s) in samples {
        bucket_inputs(f, scale, &mut x[at * INPUTS..(at + f.sequence_length) * INPUTS]);
        at += f.sequence_length;
        for b in 0..f.sequence_length as u32 {
            let class = s
                .labels
                .iter()
                .find(|l| l.start_unit <= b && b <= l.end_unit)
                .and_then(|l| cats.iter().position(|c| *c == l.category))
                .map_or(0, |k| k as u32 + 1);
            y.push(class);
        }
    }
    (x, y)
}

fn classes(model: &CsarC2, samples: &[(SessionFeatures, Sample)]) -> Vec<csarc2::BucketClasses> {
    let refs: Vec<&SessionFeatures> = samples.iter().map(|(f, _)| f).collect();
    refs.chunks(256).flat_map(|c| model.score_batch(c)).collect()
}

#[derive(Default)]
struct Counts {
    proposals: usize,
    true_proposals: usize,
    labels: usize,
    labels_found: usize,
    clean: usize,
    clean_alarms: usize,
}

fn count(
    samples: &[(SessionFeatures, Sample)],
    probabilities: &[csarc2::BucketClasses],
    threshold: f32,
) -> Counts {
    let mut c = Counts::default();
    for ((_, s), p) in samples.iter().zip(probabilities) {
        let proposals = p.proposals(threshold);
        let anomalies: Vec<_> = proposals.iter().map(as_anomaly).collect();
        c.proposals += anomalies.len();
        c.true_proposals += anomalies
            .iter()
            .filter(|a| s.labels.iter().any(|l| l.matches(a)))
            .count();
        c.labels += s.labels.len();
        c.labels_found += s
            .labels
            .iter()
            .filter(|l| anomalies.iter().any(|a| l.matches(a)))
            .count();
        if s.labels.is_empty() {
            c.clean += 1;
            c.clean_alarms += usize::from(!anomalies.is_empty());
        }
    }
    c
}

fn as_anomaly(p: &Proposal) -> evni_domain::Anomaly {
    evni_domain::Anomaly {
        category: p.category,
        score: 0.5,
        confidence: p.probability,
        bucket_range: evni_domain::BucketRange {
            start_unit: p.start as u32,
            end_unit: p.end as u32,
        },
        time_range: None,
        detector: evni_domain::Detector::CsarC2,
    }
}

/// The rules' outcome with the proposals added where the rules found
/// nothing (`replace`: instead of the rules' findings). Without CSAR-2,
/// unlike [`crate::combine::combine`], which also asks CSAR-2 to agree.
fn with_proposals(
    outcome: &evni_analysis::Outcome,
    proposals: &[Proposal],
    replace: bool,
) -> evni_analysis::Outcome {
    let evni_analysis::Outcome::Analyzed(a) = outcome else {
        return outcome.clone();
    };
    let mut a = a.clone();
    if replace {
        a.anomalies.clear();
        a.anomaly_score = 0.0;
    }
    if a.anomalies.is_empty() {
        a.anomalies = proposals.iter().map(as_anomaly).collect();
        if !a.anomalies.is_empty() {
            a.anomaly_score = 0.5;
        }
    }
    evni_analysis::Outcome::Analyzed(a)
}

/// Category-level precision and recall of the classifier alone, and
/// session F1 of the rules alone, the classifier alone and both combined.
fn measure(model: &CsarC2, eval: &[(SessionFeatures, Sample)], final_loss: f32) -> Metrics {
    let probabilities = classes(model, eval);
    let c = count(eval, &probabilities, model.min_probability());
    let precision = ratio(c.true_proposals, c.proposals);
    let recall = ratio(c.labels_found, c.labels);
    let (mut rules, mut alone, mut union) = (
        Evaluation::default(),
        Evaluation::default(),
        Evaluation::default(),
    );
    for ((_, s), p) in eval.iter().zip(&probabilities) {
        let proposals = p.proposals(model.min_probability());
        let outcome = evni_analysis::analyze(&s.readings, &s.context);
        alone.add(&s.labels, &with_proposals(&outcome, &proposals, true));
        union.add(&s.labels, &with_proposals(&outcome, &proposals, false));
        rules.add(&s.labels, &outcome);
    }
    let mut details = BTreeMap::new();
    for (name, e) in [
        ("rules", &rules),
        ("csar_c_2_alone", &alone),
        ("rules_plus_csar_c_2", &union),
    ] {
        details.insert(format!("session_f1_{name}"), e.session().f1.unwrap_or(0.0));
    }
    for cat in categories() {
        if let Some(f) = alone.category(cat).f1 {
            details.insert(format!("f1_alone_{}", cat.as_str()), f);
        }
    }
    details.insert("final_training_loss".into(), f64::from(final_loss));
    Metrics {
        precision,
        recall,
        f1: f1(precision, recall),
        false_alarm_rate: ratio(c.clean_alarms, c.clean),
        evaluated_on: "held-out simulated sessions (20 % clean, 80 % one of nine physical faults); \
                       a proposal is right when its category overlaps the label (widened by one bucket)"
            .into(),
        details,
    }
}
