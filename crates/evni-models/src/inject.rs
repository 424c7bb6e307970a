//! Faults written into a tenant's own recorded sessions. Fine-tuning sets
//! its threshold, and measures recall, on them: a fault in the tenant's
//! kind of charging can look much like its normal sessions (a fleet that
//! pauses for load balancing, a contactor that chatters), which a fault in
//! a simulated ordinary session never does.
//!
//! The families and their sizes are the simulator's novel ones
//! ([`NovelFault`]), applied to readings instead of to the physics. Power
//! and current are reshaped, and the energy registers keep in step with the
//! energy then delivered.

use evni_analysis::eval::Label;
use evni_analysis::features::{extract_from_readings, SessionFeatures};
use evni_analysis::window::{bucket_of, window};
use evni_analysis::{Outcome, SessionContext};
use evni_domain::{AnomalyCategory, Measurand, Micros, Phase, Reading, MICROS_PER_MINUTE};
use evni_sim::NovelFault;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Draws of each family per session ([`faults`]): enough faults that the
/// recall a threshold keeps rests on hundreds, not tens.
pub const DRAWS: usize = 4;
const MINUTE: Micros = MICROS_PER_MINUTE;
/// Step of the numerical integral of delivered energy.
const STEP: Micros = 15 * 1_000_000;

/// The analysed window of `readings` (sorted by time) with `fault` written
/// into it, and the fault's label. `None` when the session cannot carry
/// it: no energy register, too little charging, no power readings
/// (oscillation) or no per-phase currents (phase loss), or too little of
/// the fault in the window to be a pattern.
pub fn inject(readings: &[Reading], fault: NovelFault, rng: &mut impl Rng) -> Option<(Vec<Reading>, Label)> {
    let mut out = window(readings).to_vec();
    let t0 = out.first()?.ts;
    let (from, until) = charging(&out)?;
    let plan = Plan::draw(fault, from, until, &out, rng)?;
    let before = out.clone();
    plan.apply(&mut out);
    // A meter can miss a fault: power sampled in step with an oscillation.
    if before.iter().zip(&out).all(|(b, a)| b.value == a.value) {
        return None;
    }
    let label = plan.label(&out, t0, until)?;
    Some((out, label))
}

/// Every family written `draws` times (each at its own place) into each of
/// `sessions` that can carry it, as features and labels; faults the rules
/// find are left out (only CSAR-2 is calibrated on them). Deterministic for
/// a `seed`.
pub fn faults<'a>(
    sessions: impl IntoIterator<Item = (&'a [Reading], &'a SessionContext)>,
    draws: usize,
    seed: u64,
) -> Vec<(SessionFeatures, Vec<Label>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for (readings, context) in sessions {
        for fault in NovelFault::ALL
            .into_iter()
            .flat_map(|f| std::iter::repeat_n(f, draws))
        {
            let Some((readings, label)) = inject(readings, fault, &mut rng) else {
                continue;
            };
            let flagged = matches!(
                evni_analysis::analyze(&readings, context),
                Outcome::Analyzed(a) if !a.anomalies.is_empty()
            );
            if let Some(features) = extract_from_readings(&readings, context).filter(|_| !flagged) {
                out.push((features, vec![label]));
            }
        }
    }
    out
}

/// Where the fault sits and what it does.
#[derive(Debug, Clone, Copy)]
struct Plan {
    fault: NovelFault,
    start: Micros,
    end: Micros,
    /// Oscillation: one on-off cycle; sawtooth: half a cycle.
    period: Micros,
    /// Sawtooth: how much faster the register runs in a first half.
    amplitude: f64,
}

impl Plan {
    fn draw(
        fault: NovelFault,
        from: Micros,
        until: Micros,
        readings: &[Reading],
        rng: &mut impl Rng,
    ) -> Option<Plan> {
        match fault {
            NovelFault::Oscillation => {
                if !readings
                    .iter()
                    .any(|r| r.measurand == Measurand::PowerActiveImport)
                {
                    return None;
                }
                let length = minutes(60, 180, rng);
                let start = start_in(from + 45 * MINUTE, until - 20 * MINUTE, rng)?;
                Some(Plan {
                    fault,
                    start,
                    end: start + length,
                    period: minutes(4, 12, rng),
                    amplitude: 0.0,
                })
            }
            NovelFault::PhaseLoss => {
                let carries = |phases: [Phase; 2]| {
                    readings.iter().any(|r| {
                        r.measurand == Measurand::CurrentImport
                            && r.phase.is_some_and(|p| phases.contains(&p))
                            && r.value > 1.0
                    })
                };
                if !(carries([Phase::L2, Phase::L2N]) && carries([Phase::L3, Phase::L3N])) {
                    return None;
                }
                let start = start_in(from + 60 * MINUTE, until - 50 * MINUTE, rng)?;
                Some(Plan {
                    fault,
                    start,
                    end: Micros::MAX,
                    period: 0,
                    amplitude: 0.0,
                })
            }
            NovelFault::RegisterSawtooth => {
                let half = minutes(20, 40, rng);
                let length = 2 * half * rng.random_range(2..=4);
                let start = start_in(from + 30 * MINUTE, until - length - 10 * MINUTE, rng)?;
                Some(Plan {
                    fault,
                    start,
                    end: start + length,
                    period: half,
                    amplitude: rng.random_range(0.5..0.8),
                })
            }
        }
    }

    fn contains(&self, t: Micros) -> bool {
        t >= self.start && t < self.end
    }

    /// Share of the normal power delivered at `t`.
    fn power_factor(&self, t: Micros) -> f64 {
        if !self.contains(t) {
            return 1.0;
        }
        match self.fault {
            NovelFault::Oscillation if (t - self.start) % self.period < self.period / 2 => 1.0,
            NovelFault::Oscillation => 0.0,
            NovelFault::PhaseLoss => 1.0 / 3.0,
            NovelFault::RegisterSawtooth => 1.0,
        }
    }

    fn apply(&self, readings: &mut [Reading]) {
        for key in register_streams(readings) {
            let samples = samples_of(readings, key);
            let mut shifted = match self.fault {
                NovelFault::RegisterSawtooth => self.sawtooth(&samples),
                _ => self.held_back(&samples),
            };
            // A register never runs backwards: where the sawtooth would give
            // back faster than energy comes in, it stands still. (One that
            // did already, a meter's glitch, is left as it was.)
            if samples.windows(2).all(|w| w[1].1 >= w[0].1) {
                for i in 1..shifted.len() {
                    shifted[i] = shifted[i].max(shifted[i - 1]);
                }
            }
            let mut shifted = shifted.into_iter();
            for r in readings.iter_mut().filter(|r| stream_of(r) == Some(key)) {
                r.value = shifted.next().unwrap_or(r.value);
            }
        }
        for r in readings.iter_mut() {
            if !self.contains(r.ts) {
                continue;
            }
            match (self.fault, r.measurand, r.phase) {
                (NovelFault::RegisterSawtooth, _, _) => {}
                // Phase loss: L1 carries on as before, L2 and L3 carry
                // nothing; totals fall to a third.
                (
                    NovelFault::PhaseLoss,
                    Measurand::CurrentImport | Measurand::PowerActiveImport,
                    Some(Phase::L1 | Phase::L1N),
                ) => {}
                (
                    NovelFault::PhaseLoss,
                    Measurand::CurrentImport | Measurand::PowerActiveImport,
                    Some(Phase::L2 | Phase::L2N | Phase::L3 | Phase::L3N),
                ) => r.value = 0.0,
                (_, Measurand::PowerActiveImport | Measurand::CurrentImport, _) => {
                    r.value *= self.power_factor(r.ts);
                }
                _ => {}
            }
        }
    }

    /// A register's samples less the energy not delivered while power was reduced.
    fn held_back(&self, samples: &[(Micros, f64)]) -> Vec<f64> {
        let mut held = 0.0;
        let mut out = Vec::with_capacity(samples.len());
        out.extend(samples.first().map(|s| s.1));
        for w in samples.windows(2) {
            let ((ta, va), (tb, vb)) = (w[0], w[1]);
            let rate = if tb > ta {
                (vb - va).max(0.0) / (tb - ta) as f64
            } else {
                0.0
            };
            let mut t = ta;
            while t < tb {
                let step = STEP.min(tb - t);
                held += rate * step as f64 * (1.0 - self.power_factor(t + step / 2));
                t += step;
            }
            out.push(vb - held);
        }
        out
    }

    /// The register runs `1 + amplitude` times too fast over the first half
    /// of each cycle and gives the excess back over the second half.
    fn sawtooth(&self, samples: &[(Micros, f64)]) -> Vec<f64> {
        let energy = |t: Micros| interpolate(samples, t);
        samples
            .iter()
            .map(|&(t, v)| {
                if !self.contains(t) {
                    return v;
                }
                let cycle_start = self.start + (t - self.start) / (2 * self.period) * (2 * self.period);
                let mid = cycle_start + self.period;
                let first_half = energy(mid) - energy(cycle_start);
                if t < mid {
                    v + self.amplitude * (energy(t) - energy(cycle_start))
                } else {
                    let second_half = energy(mid + self.period) - energy(mid);
                    let done = if second_half > 0.0 {
                        ((energy(t) - energy(mid)) / second_half).clamp(0.0, 1.0)
                    } else {
                        1.0
                    };
                    v + self.amplitude * first_half * (1.0 - done)
                }
            })
            .collect()
    }

    /// The buckets of the readings the fault affects; `None` unless there is
    /// normal charging before it and it lasts for a pattern, as the
    /// simulator requires of its own.
    fn label(&self, readings: &[Reading], t0: Micros, until: Micros) -> Option<Label> {
        let affected =
            |r: &&Reading| self.contains(r.ts) && (self.fault != NovelFault::PhaseLoss || r.ts <= until);
        let mut hit = readings.iter().filter(affected);
        let first = hit.next()?;
        let last = hit.next_back().unwrap_or(first);
        let label = Label {
            category: AnomalyCategory::UnusualPattern,
            start_unit: bucket_of(first.ts - t0) as u32,
            end_unit: bucket_of(last.ts - t0) as u32,
        };
        (label.start_unit >= 3 && label.end_unit - label.start_unit >= 3).then_some(label)
    }
}

fn minutes(lo: i64, hi: i64, rng: &mut impl Rng) -> Micros {
    rng.random_range(lo..=hi) * MINUTE
}

/// A start drawn from `lo..hi`; `None` when that is empty.
fn start_in(lo: Micros, hi: Micros, rng: &mut impl Rng) -> Option<Micros> {
    (lo < hi).then(|| rng.random_range(lo..hi))
}

/// The identity of an import register stream.
type StreamKey = (Option<Phase>, evni_domain::Location);

fn stream_of(r: &Reading) -> Option<StreamKey> {
    (r.measurand == Measurand::EnergyActiveImportRegister).then_some((r.phase, r.location))
}

fn register_streams(readings: &[Reading]) -> Vec<StreamKey> {
    let mut keys: Vec<StreamKey> = Vec::new();
    for key in readings.iter().filter_map(stream_of) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// The `(time, value)` samples of one register stream.
fn samples_of(readings: &[Reading], key: StreamKey) -> Vec<(Micros, f64)> {
    readings
        .iter()
        .filter(|r| stream_of(r) == Some(key))
        .map(|r| (r.ts, r.value))
        .collect()
}

/// First and last time an import register rises: the charge.
fn charging(readings: &[Reading]) -> Option<(Micros, Micros)> {
    let key = *register_streams(readings).first()?;
    let rising: Vec<Micros> = samples_of(readings, key)
        .windows(2)
        .filter(|w| w[1].1 > w[0].1)
        .flat_map(|w| [w[0].0, w[1].0])
        .collect();
    Some((*rising.first()?, *rising.last()?))
}

/// A register's value at `t`, linear between samples.
fn interpolate(samples: &[(Micros, f64)], t: Micros) -> f64 {
    let i = samples.partition_point(|s| s.0 <= t);
    match (i.checked_sub(1).map(|j| samples[j]), samples.get(i)) {
        (Some((ta, va)), Some(&(tb, vb))) if tb > ta => va + (vb - va) * (t - ta) as f64 / (tb - ta) as f64,
        (Some((_, v)), _) | (None, Some(&(_, v))) => v,
        (None, None) => 0.0,
    }
}
