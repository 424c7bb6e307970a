//! Fine-tuning CSAR-2 on a tenant's sessions: training continues from the
//! base weights on the tenant's normal sessions mixed with replayed
//! simulated ordinary ones (so the model does not forget ordinary charging
//! and keeps finding what is unlike both), the threshold is recalibrated on
//! held-out sessions of both kinds, and the result is measured against the
//! base model on the same held-out sessions and on faults.
//!
//! [`crate::fleet`] shows it on a tenant whose normal sessions the base
//! model never saw.

use std::collections::BTreeMap;

use candle_core::{Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use evni_analysis::eval::Label;
use evni_analysis::features::{SessionFeatures, INPUTS};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::csar2::{Csar2, Csar2Score, Run};
use crate::mlp::{sha256_hex, Dense, Mlp};
use crate::{Model, ModelError};

/// How to fine-tune; recorded in the resulting card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineTuneConfig {
    pub epochs: usize,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub seed: u64,
    /// Share of held-out normal sessions allowed to alarm.
    pub target_false_alarm_rate: f64,
    /// Version of the resulting artifact.
    pub version: String,
}

/// The data of one fine-tune.
#[derive(Debug, Clone, Default)]
pub struct FineTuneData {
    /// Normal sessions to train on (the tenant's, and replayed simulated ones).
    pub train: Vec<SessionFeatures>,
    /// Held-out normal sessions of the tenant: the threshold is set on
    /// them and on `replay_calibration`.
    pub calibration: Vec<SessionFeatures>,
    /// Held-out simulated ordinary sessions (see [`replay`]): with them the
    /// threshold rests on enough sessions for its quantile even when the
    /// tenant has few, so it does not jump to the tenant's worst session.
    pub replay_calibration: Vec<SessionFeatures>,
    /// Faults written into held-out sessions of the tenant
    /// ([`crate::inject`]): the threshold is lowered until the model finds
    /// as many of them as the base model does.
    pub calibration_faults: Vec<(SessionFeatures, Vec<Label>)>,
    /// Held-out normal sessions: false alarms are measured on them.
    pub evaluation: Vec<SessionFeatures>,
    /// Sessions with a labelled fault: recall is measured on them.
    pub faults: Vec<(SessionFeatures, Vec<Label>)>,
}

/// False alarms and recall of one model on [`FineTuneData`]'s held-out sets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub false_alarms: usize,
    pub normal_sessions: usize,
    pub faults_found: usize,
    pub fault_sessions: usize,
}

impl Figures {
    pub fn false_alarm_rate(&self) -> f64 {
        ratio(self.false_alarms, self.normal_sessions)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.faults_found, self.fault_sessions)
    }

    pub fn precision(&self) -> f64 {
        ratio(self.faults_found, self.faults_found + self.false_alarms)
    }
}

/// Progress of training: `(epoch, epochs, mean loss of the epoch)`.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, f32);

/// Continues training `base` on `data.train`, recalibrates its threshold on
/// `data.calibration` and measures both models. Returns the model, its
/// safetensors bytes and the figures of the base model and of the result.
pub fn fine_tune_csar2(
    base: &Csar2,
    data: &FineTuneData,
    config: &FineTuneConfig,
    progress: Progress<'_>,
) -> Result<(Csar2, Vec<u8>, Figures, Figures), ModelError> {
    if data.train.is_empty() || data.calibration.is_empty() {
        return Err(ModelError::Data(
            "fine-tuning needs normal sessions to train on and to calibrate with".into(),
        ));
    }
    let mut x = vec![0f32; data.train.len() * INPUTS];
    for (f, row) in data.train.iter().zip(x.chunks_exact_mut(INPUTS)) {
        base.input(f, row);
    }
    let err = |e: candle_core::Error| ModelError::Training(e.to_string());
    let net = base.net();
    let vars: Vec<(Var, Var)> = net
        .layers
        .iter()
        .map(|l| {
            let w = Tensor::from_vec(l.weight.clone(), (l.inputs, l.outputs), &Device::Cpu)?;
            let b = Tensor::from_vec(l.bias.clone(), l.outputs, &Device::Cpu)?;
            Ok((Var::from_tensor(&w)?, Var::from_tensor(&b)?))
        })
        .collect::<candle_core::Result<_>>()
        .map_err(err)?;
    let forward = |x: &Tensor| -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        let last = vars.len() - 1;
        for (i, (w, b)) in vars.iter().enumerate() {
            h = h.matmul(w.as_tensor())?.broadcast_add(b.as_tensor())?;
            if i < last && !net.linear.contains(&i) {
                h = h.relu()?;
            }
        }
        Ok(h)
    };
    let mut opt = AdamW::new(
        vars.iter().flat_map(|(w, b)| [w.clone(), b.clone()]).collect(),
        ParamsAdamW {
            lr: config.learning_rate,
            weight_decay: 1e-5,
            ..ParamsAdamW::default()
        },
    )
    .map_err(err)?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let n = data.train.len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut loss = f32::NAN;
    for epoch in 1..=config.epochs {
        order.shuffle(&mut rng);
        let (mut total, mut batches) = (0f32, 0usize);
        for rows in order.chunks(config.batch_size.max(1)) {
            let mut xb = Vec::with_capacity(rows.len() * INPUTS);
            for &r in rows {
                xb.extend_from_slice(&x[r * INPUTS..(r + 1) * INPUTS]);
            }
            let xb = Tensor::from_vec(xb, (rows.len(), INPUTS), &Device::Cpu).map_err(err)?;
            let l = forward(&xb)
                .and_then(|y| (y - &xb)?.sqr()?.mean_all())
                .map_err(err)?;
            opt.backward_step(&l).map_err(err)?;
            total += l.to_scalar::<f32>().map_err(err)?;
            batches += 1;
        }
        loss = total / batches.max(1) as f32;
        progress(epoch, config.epochs, loss);
    }
    let mlp = Mlp {
        layers: vars
            .iter()
            .map(|(w, b)| {
                let (inputs, outputs) = w.dims2()?;
                Ok(Dense {
                    inputs,
                    outputs,
                    weight: w.flatten_all()?.to_vec1::<f32>()?,
                    bias: b.to_vec1::<f32>()?,
                })
            })
            .collect::<candle_core::Result<_>>()
            .map_err(err)?,
        linear: net.linear.clone(),
    };
    let weights = mlp.to_safetensors()?;
    let mut card = base.card().clone();
    card.version = config.version.clone();
    card.weights_sha256 = sha256_hex(&weights);
    card.seed = config.seed;
    card.training = serde_json::json!({
        "fine_tuned_from": base.id(),
        "config": config,
        "train_sessions": data.train.len(),
        "calibration_sessions": data.calibration.len(),
        "replay_calibration_sessions": data.replay_calibration.len(),
        "final_training_loss": loss,
    });
    let provisional = Csar2::from_parts(&weights, card.clone())?;
    let (calibrated, threshold) = calibrate(&provisional, base, data, config.target_false_alarm_rate)?;
    card = calibrated.card().clone();
    card.training["threshold"] =
        serde_json::to_value(threshold).map_err(|e| ModelError::Training(e.to_string()))?;

    let before = figures(base, data);
    let after = figures(&calibrated, data);
    let mut details = BTreeMap::from([
        ("base_false_alarm_rate".to_string(), before.false_alarm_rate()),
        ("base_recall".to_string(), before.recall()),
        ("base_precision".to_string(), before.precision()),
        ("train_sessions".to_string(), data.train.len() as f64),
        ("calibration_sessions".to_string(), data.calibration.len() as f64),
        ("evaluation_sessions".to_string(), data.evaluation.len() as f64),
        ("fault_sessions".to_string(), data.faults.len() as f64),
        ("final_training_loss".to_string(), f64::from(loss)),
    ]);
    // Recall at the base model's number of false alarms: the fair match
    // for base_recall, which the base model pays for with those alarms.
    details.insert(
        "recall_at_base_false_alarms".into(),
        ratio(
            found_at_false_alarms(&calibrated, data, before.false_alarms),
            data.faults.len(),
        ),
    );
    details.insert("calibration_faults".into(), threshold.calibration_faults as f64);
    details.insert(
        "calibration_faults_base_found".into(),
        threshold.base_found as f64,
    );
    details.insert("threshold".into(), threshold.bucket_error);
    details.insert(
        "threshold_for_false_alarm_target".into(),
        threshold.for_false_alarm_target,
    );
    details.insert("false_alarms".into(), after.false_alarms as f64);
    details.insert("base_false_alarms".into(), before.false_alarms as f64);
    card.metrics = crate::card::Metrics {
        precision: after.precision(),
        recall: after.recall(),
        f1: f1(after.precision(), after.recall()),
        false_alarm_rate: after.false_alarm_rate(),
        evaluated_on: "held-out normal sessions of the tenant (false alarms) and faults written into them \
                       (recall: a CSAR-2 run overlapping the label); base_* figures: the base model on the same sessions; \
                       recall_at_base_false_alarms: the fine-tuned model with its threshold set for as many false alarms \
                       as the base model raises; threshold: the lower of threshold_for_false_alarm_target and the highest \
                       at which the model finds as many of the calibration_faults (written into other held-out sessions) \
                       as the base model (calibration_faults_base_found), but never so low that more held-out sessions \
                       alarm than with the base model"
            .into(),
        details,
    };
    let model = Csar2::from_parts(&weights, card)?;
    Ok((model, weights, before, after))
}

/// How a fine-tuned model's threshold was set: the lower of the two bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub bucket_error: f64,
    /// Set for the target false-alarm rate ([`recalibrate`]).
    pub for_false_alarm_target: f64,
    /// The highest at which the model finds as many of
    /// `FineTuneData::calibration_faults` as the base model; none without them.
    pub keeping_base_recall: Option<f64>,
    /// The lowest allowed: as many of the tenant's held-out sessions alarm
    /// as with the base model, so that fine-tuning never adds false alarms.
    pub at_base_false_alarms: f64,
    pub calibration_faults: usize,
    /// Of them, found by the base model with its own threshold.
    pub base_found: usize,
}

/// `model`'s threshold set for `target_false_alarm_rate` ([`recalibrate`]),
/// and lowered where needed so that it finds as many of
/// `data.calibration_faults` as `base` does: a tenant's normal sessions can
/// hide faults like them, and fewer false alarms must not cost recall. It is
/// not lowered past the point where more of `data.calibration` alarm than
/// with `base`.
pub fn calibrate(
    model: &Csar2,
    base: &Csar2,
    data: &FineTuneData,
    target_false_alarm_rate: f64,
) -> Result<(Csar2, Threshold), ModelError> {
    let for_target = recalibrate(model, data, target_false_alarm_rate)?;
    let for_false_alarm_target = for_target.card().thresholds["bucket_error"];
    let faults: Vec<SessionFeatures> = data.calibration_faults.iter().map(|(f, _)| f.clone()).collect();
    let base_found = scores(base, &faults)
        .iter()
        .zip(&data.calibration_faults)
        .filter(|(score, (_, labels))| found(score, labels))
        .count();
    // The highest threshold at which each fault is found, highest first.
    let mut found_below: Vec<f32> = scores(model, &faults)
        .iter()
        .zip(&data.calibration_faults)
        .map(|(score, (_, labels))| highest_finding_threshold(score, labels))
        .collect();
    found_below.sort_unstable_by(|a, b| b.total_cmp(a));
    let keeping_base_recall = base_found
        .checked_sub(1)
        .and_then(|i| found_below.get(i))
        .map(|t| f64::from(*t));
    let base_alarms = scores(base, &data.calibration)
        .iter()
        .filter(|s| !s.runs().is_empty())
        .count();
    let at_base_false_alarms =
        f64::from(threshold_for_alarms(model, &data.calibration, base_alarms).unwrap_or(0.0));
    let bucket_error = keeping_base_recall.map_or(for_false_alarm_target, |t| {
        t.max(at_base_false_alarms).min(for_false_alarm_target)
    });
    let threshold = Threshold {
        bucket_error,
        for_false_alarm_target,
        keeping_base_recall,
        at_base_false_alarms,
        calibration_faults: faults.len(),
        base_found,
    };
    let mut card = model.card().clone();
    card.thresholds.insert("bucket_error".into(), bucket_error);
    Ok((
        Csar2::from_parts(&model.net().to_safetensors()?, card)?,
        threshold,
    ))
}

/// The highest threshold at which `score`'s runs find `labels` (within
/// bisection precision; 0 when none does): finding is monotone in the
/// threshold.
fn highest_finding_threshold(score: &Csar2Score, labels: &[Label]) -> f32 {
    let at = |threshold: f32| {
        found(
            &Csar2Score {
                threshold,
                ..score.clone()
            },
            labels,
        )
    };
    let (mut lo, mut hi) = (0f32, score.session_error());
    if !at(lo) {
        return 0.0;
    }
    for _ in 0..40 {
        let mid = (lo + hi) / 2.0;
        if at(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// `model` with its threshold set so that `target_false_alarm_rate` of the
/// held-out normal sessions (`data.calibration` and
/// `data.replay_calibration` pooled) alarm.
pub fn recalibrate(
    model: &Csar2,
    data: &FineTuneData,
    target_false_alarm_rate: f64,
) -> Result<Csar2, ModelError> {
    let pooled: Vec<SessionFeatures> = data
        .calibration
        .iter()
        .chain(&data.replay_calibration)
        .cloned()
        .collect();
    let mut errors: Vec<f32> = scores(model, &pooled)
        .iter()
        .map(Csar2Score::session_error)
        .collect();
    let threshold = quantile(&mut errors, 1.0 - target_false_alarm_rate);
    let mut card = model.card().clone();
    card.thresholds
        .insert("bucket_error".into(), f64::from(threshold));
    Csar2::from_parts(&model.net().to_safetensors()?, card)
}

/// Simulated ordinary sessions to replay while fine-tuning: `train` to
/// train on beside the tenant's sessions and `calibration` held out for
/// the threshold, drawn from as many stations as the base model's data.
pub fn replay(
    train: usize,
    calibration: usize,
    seed: u64,
) -> Result<(Vec<SessionFeatures>, Vec<SessionFeatures>), ModelError> {
    let sim = evni_sim::SimConfig {
        sessions: train + calibration,
        seed,
        kinds: Some(vec![evni_sim::SessionKind::Clean]),
        stations: REPLAY_STATIONS,
        id_prefix: "REPLAY".into(),
        ..evni_sim::SimConfig::default()
    };
    let mut all: Vec<SessionFeatures> = crate::data::simulate(&sim, crate::data::default_threads())?
        .iter()
        .filter_map(crate::data::Sample::features)
        .collect();
    let held_out = all.split_off(train.min(all.len()));
    Ok((all, held_out))
}

const REPLAY_STATIONS: usize = 2000;

/// False alarms on `data.evaluation` and recall on `data.faults`.
pub fn figures(model: &Csar2, data: &FineTuneData) -> Figures {
    let false_alarms = scores(model, &data.evaluation)
        .iter()
        .filter(|s| !s.runs().is_empty())
        .count();
    let faults_found = found_count(model, data, None);
    Figures {
        false_alarms,
        normal_sessions: data.evaluation.len(),
        faults_found,
        fault_sessions: data.faults.len(),
    }
}

/// Faults in `data.faults` that `model` finds with its threshold set so
/// that exactly `false_alarms` of `data.evaluation` alarm (fewer when
/// sessions tie): recall at a given false-alarm rate, to compare models
/// at the same alarm budget.
pub fn found_at_false_alarms(model: &Csar2, data: &FineTuneData, false_alarms: usize) -> usize {
    let threshold = threshold_for_alarms(model, &data.evaluation, false_alarms).unwrap_or(f32::NEG_INFINITY);
    found_count(model, data, Some(threshold))
}

/// The threshold at which exactly `alarms` of `sessions` alarm (fewer when
/// sessions tie); `None` when there are no more sessions than that.
fn threshold_for_alarms(model: &Csar2, sessions: &[SessionFeatures], alarms: usize) -> Option<f32> {
    let mut errors: Vec<f32> = scores(model, sessions)
        .iter()
        .map(Csar2Score::session_error)
        .collect();
    errors.sort_unstable_by(|a, b| b.total_cmp(a));
    // A session alarms when its error is above the threshold.
    errors.get(alarms).copied()
}

/// Faults found with the model's threshold, or with `threshold`.
fn found_count(model: &Csar2, data: &FineTuneData, threshold: Option<f32>) -> usize {
    let features: Vec<SessionFeatures> = data.faults.iter().map(|(f, _)| f.clone()).collect();
    scores(model, &features)
        .into_iter()
        .zip(&data.faults)
        .filter(|(score, (_, labels))| {
            let score = Csar2Score {
                threshold: threshold.unwrap_or(score.threshold),
                ..score.clone()
            };
            found(&score, labels)
        })
        .count()
}

/// A fault counts as found when a run overlaps each label (widened by one
/// bucket); a fault without labels when there is any run.
pub fn found(score: &Csar2Score, labels: &[Label]) -> bool {
    found_in(&score.runs(), labels)
}

/// [`found`] for a session whose runs are already known.
pub fn found_in(runs: &[Run], labels: &[Label]) -> bool {
    if labels.is_empty() {
        return !runs.is_empty();
    }
    labels.iter().all(|l| {
        runs.iter()
            .any(|r| r.start as u32 <= l.end_unit + 1 && r.end as u32 + 1 >= l.start_unit)
    })
}

fn scores(model: &Csar2, samples: &[SessionFeatures]) -> Vec<Csar2Score> {
    let refs: Vec<&SessionFeatures> = samples.iter().collect();
    refs.chunks(256).flat_map(|c| model.score_batch(c)).collect()
}

fn quantile(values: &mut [f32], q: f64) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable_by(f32::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    values[lo] + (values[hi] - values[lo]) * (pos - lo as f64) as f32
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

/// `a / b`, or 0 when there is nothing to divide by.
pub(crate) fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
