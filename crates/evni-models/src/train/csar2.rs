//! Training CSAR-2 on simulated normal sessions, calibrating its threshold
//! on held-out normal sessions and measuring it on held-out normal and
//! novel-fault sessions (families training never sees).

use std::collections::BTreeMap;

use evni_analysis::features::{SessionFeatures, FEATURES, INPUTS};
use evni_sim::{SessionKind, SimConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::net::{fit, Net};
use super::{
    column_scales, f1, quantile, ratio, TrainConfig, CALIBRATION_SEED, EVALUATION_SEED, FRAMEWORK, VERSION,
};
use crate::card::{Architecture, FeatureSpec, Metrics, ModelCard, Normalisation};
use crate::csar2::{self, Csar2, Csar2Score, BOTTLENECK_LAYER};
use crate::data::{self, Sample};
use crate::mlp::sha256_hex;
use crate::ModelError;

/// Trains CSAR-2; returns the model, its safetensors bytes (as in the
/// sidecar's hash) and the final training loss.
pub fn train_csar2(config: &TrainConfig) -> Result<(Csar2, Vec<u8>), ModelError> {
    let features = |sim: SimConfig| -> Result<Vec<(SessionFeatures, Sample)>, ModelError> {
        Ok(data::simulate(&sim, config.threads)?
            .into_iter()
            .filter_map(|s| s.features().map(|f| (f, s)))
            .collect())
    };
    let clean = |sessions, seed, prefix: &str| SimConfig {
        sessions,
        seed,
        kinds: Some(vec![SessionKind::Clean]),
        id_prefix: prefix.to_string(),
        stations: config.stations,
        ..SimConfig::default()
    };
    let mut train = features(clean(config.train_sessions, config.seed, "TRAIN"))?;
    // Idle tails longer than the simulator draws (analysis.md §3: normal).
    let mut tails = ChaCha8Rng::seed_from_u64(config.seed ^ 0x7a11);
    let extra: Vec<(SessionFeatures, Sample)> = train
        .iter()
        .filter_map(|(_, s)| {
            let chosen = tails.random_bool(config.idle_tail_share);
            let minutes = tails.random_range(30..=300);
            let tail = data::with_idle_tail(s, minutes).filter(|_| chosen)?;
            Some((tail.features()?, tail))
        })
        .collect();
    // Delayed starts of any charge, also DC (the simulator delays DC
    // charges by minutes only; analysis.md §3: normal).
    let mut delays = ChaCha8Rng::seed_from_u64(config.seed ^ 0xde1a);
    let delayed: Vec<(SessionFeatures, Sample)> = train
        .iter()
        .filter_map(|(_, s)| {
            let chosen = delays.random_bool(config.delayed_start_share);
            let minutes = delays.random_range(15..=150);
            let delayed = data::with_delayed_start(s, minutes).filter(|_| chosen)?;
            Some((delayed.features()?, delayed))
        })
        .collect();
    train.extend(extra);
    train.extend(delayed);
    let scale: [f32; FEATURES] = column_scales(train.iter().map(|(f, _)| f), config.max_scale)
        .try_into()
        .map_err(|_| ModelError::Training("scales".into()))?;
    let mut x = vec![0f32; train.len() * INPUTS];
    for ((f, _), row) in train.iter().zip(x.chunks_exact_mut(INPUTS)) {
        csar2::scaled_input(f, &scale, row);
    }

    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let sizes: Vec<usize> = std::iter::once(INPUTS)
        .chain(config.hidden.iter().copied())
        .chain(std::iter::once(INPUTS))
        .collect();
    let net = Net::init(&sizes, vec![BOTTLENECK_LAYER], &mut rng)?;
    let loss = fit(&net, &x, INPUTS, config, &mut rng, |y, x, _| {
        (y - x)?.sqr()?.mean_all()
    })?;
    let mlp = net.to_mlp()?;

    // A provisional card to score with; the threshold comes next.
    let mut card = ModelCard {
        name: csar2::NAME.into(),
        model_type: "autoencoder".into(),
        version: VERSION.into(),
        framework: FRAMEWORK.into(),
        architecture: Architecture {
            layers: sizes,
            hidden_activation: "relu (bottleneck linear)".into(),
        },
        features: FeatureSpec::current(csar2::LAYOUT, INPUTS),
        normalisation: Normalisation {
            scale: scale.to_vec(),
        },
        thresholds: BTreeMap::from([
            ("bucket_error".into(), 1.0),
            ("min_run_buckets".into(), config.min_run_buckets as f64),
            ("run_window_buckets".into(), config.run_window_buckets as f64),
        ]),
        metrics: Metrics {
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
            false_alarm_rate: 0.0,
            evaluated_on: String::new(),
            details: BTreeMap::new(),
        },
        classes: Vec::new(),
        training: serde_json::to_value(config).map_err(|e| ModelError::Training(e.to_string()))?,
        seed: config.seed,
        weights_sha256: String::new(),
    };
    let weights = mlp.to_safetensors()?;
    card.weights_sha256 = sha256_hex(&weights);
    let provisional = Csar2::from_parts(&weights, card.clone())?;

    let calibration = features(clean(
        config.calibration_sessions,
        config.seed + CALIBRATION_SEED,
        "CAL",
    ))?;
    let mut errors: Vec<f32> = scores(&provisional, &calibration)
        .iter()
        .map(Csar2Score::session_error)
        .collect();
    let threshold = quantile(&mut errors, 1.0 - config.target_false_alarm_rate);
    card.thresholds
        .insert("bucket_error".into(), f64::from(threshold));
    let calibrated = Csar2::from_parts(&weights, card.clone())?;

    let eval = features(SimConfig {
        sessions: config.eval_sessions,
        seed: config.seed + EVALUATION_SEED,
        fault_share: 0.0,
        novel_share: 0.5,
        id_prefix: "EVAL".into(),
        stations: config.stations,
        ..SimConfig::default()
    })?;
    card.metrics = measure(&calibrated, &eval, loss);
    let model = Csar2::from_parts(&weights, card)?;
    Ok((model, weights))
}

fn scores(model: &Csar2, samples: &[(SessionFeatures, Sample)]) -> Vec<Csar2Score> {
    let refs: Vec<&SessionFeatures> = samples.iter().map(|(f, _)| f).collect();
    refs.chunks(256).flat_map(|c| model.score_batch(c)).collect()
}

/// Session-level figures on normal and novel-fault sessions: a session is
/// flagged when CSAR-2 finds a run; a novel fault counts as found when a
/// run overlaps its label (widened by one bucket).
fn measure(model: &Csar2, eval: &[(SessionFeatures, Sample)], final_loss: f32) -> Metrics {
    let scores = scores(model, eval);
    let (mut tp, mut fp, mut fn_, mut clean, mut alarms) = (0, 0, 0, 0, 0);
    let mut families: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for ((_, sample), score) in eval.iter().zip(&scores) {
        let runs = score.runs();
        if sample.labels.is_empty() {
            clean += 1;
            if !runs.is_empty() {
                alarms += 1;
                fp += 1;
            }
            continue;
        }
        let found = sample.labels.iter().all(|l| {
            runs.iter()
                .any(|r| r.start as u32 <= l.end_unit + 1 && r.end as u32 + 1 >= l.start_unit)
        });
        let family = families.entry(sample.kind.as_str().to_string()).or_default();
        family.0 += 1;
        if found {
            tp += 1;
            family.1 += 1;
        } else {
            fn_ += 1;
            fp += usize::from(!runs.is_empty());
        }
    }
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let mut details: BTreeMap<String, f64> = families
        .iter()
        .map(|(k, (n, found))| (format!("recall_{k}"), ratio(*found, *n)))
        .collect();
    details.insert("clean_sessions".into(), clean as f64);
    details.insert("novel_sessions".into(), (tp + fn_) as f64);
    details.insert("final_training_loss".into(), f64::from(final_loss));
    Metrics {
        precision,
        recall,
        f1: f1(precision, recall),
        false_alarm_rate: ratio(alarms, clean),
        evaluated_on: "held-out simulated sessions: clean and novel faults (oscillation, phase loss, \
                       register sawtooth) that training never sees; UNUSUAL_PATTERN overlapping the label"
            .into(),
        details,
    }
}
