//! A tenant whose normal sessions differ from the base model's training
//! data: a fleet whose chargers pause every half hour for load balancing
//! ([`load_balanced`]). [`run`] fine-tunes CSAR-2 on the fleet's sessions and
//! measures the base and the fine-tuned model on held-out fleet sessions
//! (false alarms) and on faults in the fleet's sessions: the novel families
//! only a model finds and the physical ones the rules name. It also
//! compares the two at equal numbers of false alarms ([`EqualAlarms`]), so
//! that a model is not credited with faults it "finds" by flagging much,
//! and measures how often a fault's labels meet a finding by chance
//! ([`ChanceOverlaps`]).

use std::collections::BTreeMap;
use std::time::Instant;

use evni_analysis::features::SessionFeatures;
use evni_analysis::Outcome;
use evni_sim::{SessionKind, SimConfig};

use crate::data::{self, Sample};
use crate::fine_tune::{self, fine_tune_csar2, ratio, Figures, FineTuneConfig, FineTuneData};
use crate::{Csar2, Model, ModelError, Models};

/// The experiment's size.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Clean fleet sessions simulated (60 % train, 20 % calibrate, 20 % evaluate).
    pub sessions: usize,
    /// Sessions simulated of each fault kind (novel, physical); novel ones
    /// the rules flag once load-balanced are left out.
    pub fault_sessions: usize,
    /// Held-out ordinary sessions for the threshold.
    pub replay_calibration: usize,
    /// Replayed ordinary sessions per fleet session trained on.
    pub replay_ratio: usize,
    pub epochs: usize,
    pub learning_rate: f64,
    /// Of the pooled held-out sessions (the fleet's and ordinary ones).
    pub target_false_alarm_rate: f64,
    pub seed: u64,
    pub load_balancing: LoadBalancing,
}

impl FleetConfig {
    pub fn new(sessions: usize, epochs: usize) -> Self {
        FleetConfig {
            sessions,
            fault_sessions: sessions / 4,
            replay_calibration: 2000,
            replay_ratio: 2,
            epochs,
            learning_rate: 1e-3,
            target_false_alarm_rate: 0.005,
            seed: 77,
            load_balancing: LoadBalancing::default(),
        }
    }
}

/// What the whole analysis (rules + both models) does with the fleet.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Verdicts {
    pub false_alarms: usize,
    pub normal_sessions: usize,
    pub novel_found: usize,
    pub novel_sessions: usize,
    pub physical_found: usize,
    pub physical_sessions: usize,
}

impl Verdicts {
    pub fn false_alarm_rate(&self) -> f64 {
        ratio(self.false_alarms, self.normal_sessions)
    }
    pub fn novel_recall(&self) -> f64 {
        ratio(self.novel_found, self.novel_sessions)
    }
    pub fn physical_recall(&self) -> f64 {
        ratio(self.physical_found, self.physical_sessions)
    }
}

/// The base model against the fine-tuned one.
#[derive(Debug, Clone)]
pub struct FleetReport {
    pub clean_sessions: usize,
    /// Clean fleet sessions the rules flag (left out: not normal to them).
    pub rule_flagged: usize,
    pub train_sessions: usize,
    pub replayed_sessions: usize,
    pub seconds: f64,
    /// CSAR-2 alone: false alarms on held-out fleet sessions, recall on
    /// the novel faults.
    pub csar2: [Figures; 2],
    /// CSAR-2 alone on novel faults in ordinary (not load-balanced) sessions.
    pub ordinary: [Figures; 2],
    /// The whole analysis, base then fine-tuned.
    pub analysis: [Verdicts; 2],
    /// The alternative to fine-tuning.
    pub recalibrated: Recalibrated,
    /// CSAR-2 alone, base and fine-tuned, each with its threshold set for
    /// the same number of false alarms on the held-out fleet sessions.
    pub equal_alarms: Vec<EqualAlarms>,
    /// CSAR-2 alone, base and fine-tuned: how often a novel fault would be
    /// "found" by chance ([`chance_overlaps`]).
    pub chance: [ChanceOverlaps; 2],
    pub tuned: Csar2,
    /// Final training loss per epoch.
    pub losses: Vec<f32>,
}

/// The alternative to fine-tuning: the base CSAR-2 with its threshold
/// recalibrated on the fine-tune's held-out sessions for the same target.
#[derive(Debug, Clone)]
pub struct Recalibrated {
    pub threshold: f64,
    /// CSAR-2 alone, as [`FleetReport::csar2`] and [`FleetReport::ordinary`].
    pub csar2: Figures,
    pub ordinary: Figures,
    pub analysis: Verdicts,
}

/// Novel faults in the fleet found by the base and the fine-tuned CSAR-2
/// when both raise `false_alarms` on the held-out fleet sessions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EqualAlarms {
    pub false_alarms: usize,
    pub normal_sessions: usize,
    pub base_found: usize,
    pub tuned_found: usize,
    pub fault_sessions: usize,
}

/// Pairs of (novel fault, held-out normal fleet session) where the model's
/// findings in the normal session overlap the fault's labels: what the
/// recall of the same model counts without the fault having done anything.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChanceOverlaps {
    pub overlaps: usize,
    pub pairs: usize,
}

impl ChanceOverlaps {
    pub fn rate(&self) -> f64 {
        ratio(self.overlaps, self.pairs)
    }

    /// `recall` corrected for chance: `(recall - c) / (1 - c)`.
    pub fn corrected(&self, recall: f64) -> f64 {
        let c = self.rate();
        if c < 1.0 {
            (recall - c) / (1.0 - c)
        } else {
            0.0
        }
    }
}

/// Every fault's labels laid over every held-out normal session.
fn chance_overlaps(model: &Csar2, data: &FineTuneData) -> ChanceOverlaps {
    // Each normal session's runs once, not once per fault.
    let normal: Vec<_> = data.evaluation.iter().map(|f| model.score(f).runs()).collect();
    let faults = data.faults.iter().filter(|(_, labels)| !labels.is_empty());
    let mut chance = ChanceOverlaps {
        overlaps: 0,
        pairs: 0,
    };
    for (_, labels) in faults {
        chance.pairs += normal.len();
        chance.overlaps += normal
            .iter()
            .filter(|runs| fine_tune::found_in(runs, labels))
            .count();
    }
    chance
}

/// False alarms the models are compared at: from a handful up to the base
/// model's own count at its threshold.
fn alarm_budgets(normal_sessions: usize, base_false_alarms: usize) -> Vec<usize> {
    let mut budgets: Vec<usize> = [0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.15]
        .iter()
        .map(|share| (share * normal_sessions as f64).round() as usize)
        .filter(|&n| n > 0 && n < base_false_alarms)
        .chain([base_false_alarms])
        .collect();
    budgets.dedup();
    budgets
}

/// Simulates the fleet, fine-tunes `base.csar2` on it and measures both.
pub fn run(base: &Models, config: &FleetConfig) -> Result<FleetReport, ModelError> {
    let lb = config.load_balancing;
    let fleet = |sim: SimConfig| -> Result<Vec<Sample>, ModelError> {
        let stations = evni_sim::stations(&sim);
        (0..sim.sessions)
            .map(|i| {
                data::prepare(&load_balanced(
                    &evni_sim::simulate_session_with(&sim, &stations, i),
                    lb,
                ))
            })
            .collect()
    };
    let sim = |sessions, seed, prefix: &str| SimConfig {
        sessions,
        seed,
        id_prefix: prefix.to_string(),
        ..SimConfig::default()
    };
    let clean = fleet(SimConfig {
        kinds: Some(vec![SessionKind::Clean]),
        ..sim(config.sessions, config.seed, "FLEET")
    })?;
    // As the simulator keeps them: faults the rules find nothing in.
    let novel: Vec<Sample> = fleet(SimConfig {
        fault_share: 0.0,
        novel_share: 1.0,
        ..sim(config.fault_sessions, config.seed + 1, "NOVEL")
    })?
    .into_iter()
    .filter(|s| !s.labels.is_empty() && !flagged(&evni_analysis::analyze(&s.readings, &s.context)))
    .collect();
    // The same families in ordinary sessions: does the model forget them?
    let ordinary: Vec<(SessionFeatures, Vec<evni_analysis::eval::Label>)> = data::simulate(
        &SimConfig {
            fault_share: 0.0,
            novel_share: 1.0,
            ..sim(config.fault_sessions, config.seed + 4, "ORDINARY")
        },
        data::default_threads(),
    )?
    .into_iter()
    .filter(|s| !s.labels.is_empty())
    .filter_map(|s| Some((s.features()?, s.labels)))
    .collect();
    let physical: Vec<Sample> = fleet(SimConfig {
        fault_share: 1.0,
        ..sim(config.fault_sessions, config.seed + 2, "FAULT")
    })?
    .into_iter()
    .filter(|s| !s.labels.is_empty())
    .collect();

    let normal: Vec<(SessionFeatures, &Sample)> = clean
        .iter()
        .filter(|s| !flagged(&evni_analysis::analyze(&s.readings, &s.context)))
        .filter_map(|s| Some((s.features()?, s)))
        .collect();
    let train_len = normal.len() * 6 / 10;
    let calibration_len = (normal.len() - train_len) / 2;
    let (train, rest) = normal.split_at(train_len);
    let (calibration, evaluation) = rest.split_at(calibration_len);
    let (replay, replay_calibration) = fine_tune::replay(
        config.replay_ratio * train.len(),
        config.replay_calibration,
        config.seed + 3,
    )?;
    let replayed = replay.len();
    let data = FineTuneData {
        train: train.iter().map(|(f, _)| f.clone()).chain(replay).collect(),
        calibration: calibration.iter().map(|(f, _)| f.clone()).collect(),
        calibration_faults: crate::inject::faults(
            calibration.iter().map(|(_, s)| (&s.readings[..], &s.context)),
            crate::inject::DRAWS,
            config.seed + 5,
        ),
        replay_calibration,
        evaluation: evaluation.iter().map(|(f, _)| f.clone()).collect(),
        faults: novel
            .iter()
            .filter_map(|s| Some((s.features()?, s.labels.clone())))
            .collect(),
    };
    let tune = FineTuneConfig {
        epochs: config.epochs,
        learning_rate: config.learning_rate,
        batch_size: 64,
        seed: config.seed,
        target_false_alarm_rate: config.target_false_alarm_rate,
        version: format!("{}-ft.fleet", crate::Model::version(&base.csar2)),
    };
    let started = Instant::now();
    let mut losses = Vec::new();
    let (tuned, _, before, after) =
        fine_tune_csar2(&base.csar2, &data, &tune, &mut |_, _, loss| losses.push(loss))?;
    let seconds = started.elapsed().as_secs_f64();
    let tuned_models = Models {
        csar2: tuned.clone(),
        csarc2: base.csarc2.clone(),
    };
    let recalibrated_models = Models {
        csar2: fine_tune::recalibrate(&base.csar2, &data, config.target_false_alarm_rate)?,
        csarc2: base.csarc2.clone(),
    };
    let held_out: Vec<&Sample> = evaluation.iter().map(|(_, s)| *s).collect();
    let verdicts = |models: &Models| {
        let found = |s: &Sample| match models.analyze(&s.readings, &s.context) {
            Outcome::Analyzed(a) => s.labels.iter().all(|l| a.anomalies.iter().any(|x| l.matches(x))),
            _ => false,
        };
        Verdicts {
            false_alarms: held_out
                .iter()
                .filter(|s| flagged(&models.analyze(&s.readings, &s.context)))
                .count(),
            normal_sessions: held_out.len(),
            novel_found: novel.iter().filter(|s| found(s)).count(),
            novel_sessions: novel.len(),
            physical_found: physical.iter().filter(|s| found(s)).count(),
            physical_sessions: physical.len(),
        }
    };
    let equal_alarms = alarm_budgets(data.evaluation.len(), before.false_alarms)
        .into_iter()
        .map(|false_alarms| EqualAlarms {
            false_alarms,
            normal_sessions: data.evaluation.len(),
            base_found: fine_tune::found_at_false_alarms(&base.csar2, &data, false_alarms),
            tuned_found: fine_tune::found_at_false_alarms(&tuned, &data, false_alarms),
            fault_sessions: data.faults.len(),
        })
        .collect();
    let ordinary_data = FineTuneData {
        faults: ordinary,
        ..FineTuneData::default()
    };
    let ordinary = [
        fine_tune::figures(&base.csar2, &ordinary_data),
        fine_tune::figures(&tuned, &ordinary_data),
    ];
    let recalibrated = Recalibrated {
        threshold: recalibrated_models.csar2.card().thresholds["bucket_error"],
        csar2: fine_tune::figures(&recalibrated_models.csar2, &data),
        ordinary: fine_tune::figures(&recalibrated_models.csar2, &ordinary_data),
        analysis: verdicts(&recalibrated_models),
    };
    Ok(FleetReport {
        ordinary,
        clean_sessions: clean.len(),
        rule_flagged: clean.len() - normal.len(),
        train_sessions: train.len(),
        replayed_sessions: replayed,
        seconds,
        csar2: [before, after],
        analysis: [verdicts(base), verdicts(&tuned_models)],
        recalibrated,
        equal_alarms,
        chance: [
            chance_overlaps(&base.csar2, &data),
            chance_overlaps(&tuned, &data),
        ],
        tuned,
        losses,
    })
}

fn flagged(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Analyzed(a) if !a.anomalies.is_empty())
}

/// Periodic load balancing: from minute `offset_minutes` of every
/// `period_minutes` of the session, for `minutes`, the charger delivers
/// `factor` of its power.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadBalancing {
    pub period_minutes: i64,
    pub offset_minutes: i64,
    pub minutes: i64,
    pub factor: f64,
}

impl Default for LoadBalancing {
    /// A 10-minute pause every half hour: no 15-minute bucket lies wholly
    /// in a pause, so a bucket keeps at least a third of the plateau and
    /// the rules see no ENERGY_PIT where power is sampled densely, but
    /// power drops to zero and comes back again and again, which ordinary
    /// charging never does.
    fn default() -> Self {
        Self {
            period_minutes: 30,
            offset_minutes: 15,
            minutes: 10,
            factor: 0.0,
        }
    }
}

/// The session as a load-balanced fleet would report it: power and current
/// scaled down in the load-balancing windows, energy registers holding back the
/// energy not delivered. SoC and labels stay as they are.
pub fn load_balanced(session: &evni_sim::SimulatedSession, lb: LoadBalancing) -> evni_sim::SimulatedSession {
    use evni_domain::Measurand;
    let parse = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.timestamp_micros())
            .unwrap_or(0)
    };
    let mut out = session.clone();
    let values = &mut out.request.meter_values;
    let Some(t0) = values.iter().map(|v| parse(&v.timestamp)).min() else {
        return out;
    };
    let minute = 60_000_000i64;
    let throttled = |t: i64| {
        let m = (t - t0).div_euclid(minute).rem_euclid(lb.period_minutes.max(1));
        m >= lb.offset_minutes && m < lb.offset_minutes + lb.minutes
    };
    // Minutes throttled between t0 and t (the share of energy held back).
    let throttled_before = |t: i64| -> f64 {
        let elapsed = (t - t0) as f64 / minute as f64;
        let period = lb.period_minutes.max(1) as f64;
        let periods = (elapsed / period).floor();
        let within = elapsed - periods * period;
        let start = lb.offset_minutes as f64;
        let partial = (within - start).clamp(0.0, lb.minutes as f64);
        periods * lb.minutes as f64 + partial
    };
    let is_register = |m: Option<Measurand>| matches!(m, None | Some(Measurand::EnergyActiveImportRegister));
    // Each register series: times and values, to find the energy that
    // flowed during throttled minutes (assumed spread evenly per interval).
    let mut series: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    let key =
        |v: &evni_sim::MeterValue| format!("{:?}{:?}{:?}{:?}", v.measurand, v.unit, v.phase, v.location);
    for v in values.iter().filter(|v| is_register(v.measurand)) {
        series
            .entry(key(v))
            .or_default()
            .push((parse(&v.timestamp), v.value));
    }
    for s in series.values_mut() {
        s.sort_by_key(|(t, _)| *t);
    }
    for v in values.iter_mut() {
        let t = parse(&v.timestamp);
        if is_register(v.measurand) {
            let s = &series[&key(v)];
            let mut held = 0.0;
            for w in s.windows(2) {
                let ((ta, va), (tb, vb)) = (w[0], w[1]);
                if ta >= t {
                    break;
                }
                let end = tb.min(t);
                let span = (tb - ta) as f64;
                if span <= 0.0 {
                    continue;
                }
                let throttled_minutes = throttled_before(end) - throttled_before(ta);
                let rate = (vb - va).max(0.0) / span;
                held += rate * throttled_minutes * minute as f64 * (1.0 - lb.factor);
            }
            // A register held back across a fault's reset would fall below
            // zero, which no meter reports (and evni refuses).
            v.value = (v.value - held).max(0.0);
        } else if matches!(
            v.measurand,
            Some(Measurand::PowerActiveImport | Measurand::CurrentImport)
        ) && throttled(t)
        {
            v.value *= lb.factor;
        }
    }
    out
}
