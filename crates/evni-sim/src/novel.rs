//! Fault families that no rule of analysis.md §3 names and that the learned
//! models never see in training: they test whether CSAR-2 generalises. Each
//! is labelled UNUSUAL_PATTERN over the buckets it affects, and a session is
//! kept only when the reference rules find nothing in it (so only a model
//! can find it). They are out of the default mix: see
//! [`crate::SimConfig::novel_share`].
//!
//! - oscillation: delivery toggles between full power and zero every few
//!   minutes (a chattering contactor or control-pilot fault) for an hour or
//!   more, on meters that report power;
//! - phase loss: a three-phase AC charge drops to one phase for good, a
//!   third of the power, on meters that report per-phase currents (which
//!   show two phases at zero);
//! - register sawtooth: the energy register alternately runs fast and slow
//!   against the delivered energy (a faulty meter clock or pulse counter); it
//!   never goes down and never jumps past the rules' thresholds.

use chrono::DateTime;
use evni_domain::{AnomalyCategory, Measurand, Phase};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::output::{Label, MeterValue};
use crate::profile::{ChargePlan, Span, Trace, STEP_S};
use crate::sampling::Row;
use crate::station::{CurrentType, StationSpec};
use crate::window::Window;

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;

/// A fault family of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NovelFault {
    Oscillation,
    PhaseLoss,
    RegisterSawtooth,
}

impl NovelFault {
    pub const ALL: [NovelFault; 3] = [
        NovelFault::Oscillation,
        NovelFault::PhaseLoss,
        NovelFault::RegisterSawtooth,
    ];

    /// The session kind's name in the simulator's output.
    pub fn as_str(self) -> &'static str {
        match self {
            NovelFault::Oscillation => "novel_oscillation",
            NovelFault::PhaseLoss => "novel_phase_loss",
            NovelFault::RegisterSawtooth => "novel_register_sawtooth",
        }
    }

    pub fn parse(text: &str) -> Option<NovelFault> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(text))
    }
}

/// A change to the physics: delivered power is multiplied by [`Self::factor`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PowerShape {
    fault: NovelFault,
    span: Span,
    /// Oscillation: one on-off cycle.
    period_s: i64,
}

impl PowerShape {
    pub fn factor(&self, t: i64) -> f64 {
        if !self.span.contains(t) {
            return 1.0;
        }
        match self.fault {
            NovelFault::Oscillation => {
                if (t - self.span.start_s) % self.period_s < self.period_s / 2 {
                    1.0
                } else {
                    0.0
                }
            }
            NovelFault::PhaseLoss => 1.0 / 3.0,
            NovelFault::RegisterSawtooth => 1.0,
        }
    }
}

/// Where a novel fault sits in a session, from plug-in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NovelPlan {
    pub fault: NovelFault,
    pub span: Span,
    /// Register sawtooth: half a cycle, and how much faster/slower the register runs.
    half_period_s: i64,
    amplitude: f64,
    /// The vehicle stays at least this long.
    pub earliest_unplug_s: i64,
}

/// Places a novel fault using the fault-free trace `base`; the physics
/// faults set `plan.shape`. `None` when this session cannot carry it.
pub(crate) fn plan_novel_fault(
    rng: &mut ChaCha8Rng,
    fault: NovelFault,
    plan: &mut ChargePlan,
    base: &Trace,
    station: &StationSpec,
    reports_power: bool,
) -> Option<NovelPlan> {
    let charging_from = plan.delay_s + 45 * MINUTE;
    let charging_until = base.complete_s.unwrap_or((base.points.len() as i64 - 1) * STEP_S);
    match fault {
        // Visible only to a meter that reports power: a register read every
        // few minutes averages the toggling into a lower, steady rate.
        NovelFault::Oscillation if !reports_power => None,
        // Without per-phase currents a drop to a third of the power is
        // indistinguishable from load management.
        NovelFault::PhaseLoss if !station.meter.per_phase => None,
        NovelFault::Oscillation => {
            let length = rng.random_range(60..=180) * MINUTE;
            if charging_until - 20 * MINUTE <= charging_from {
                return None;
            }
            let start_s = rng.random_range(charging_from..charging_until - 20 * MINUTE);
            let span = Span {
                start_s,
                end_s: start_s + length,
            };
            plan.shape = Some(PowerShape {
                fault,
                span,
                period_s: rng.random_range(4..=12) * MINUTE,
            });
            Some(NovelPlan {
                fault,
                span,
                half_period_s: 0,
                amplitude: 0.0,
                earliest_unplug_s: span.end_s + 30 * MINUTE,
            })
        }
        NovelFault::PhaseLoss => {
            // One phase of three: only a vehicle charging on all three.
            if station.current_type != CurrentType::AC || station.phases != 3 || plan.vehicle.max_kw < 10.0 {
                return None;
            }
            let latest = charging_until - 50 * MINUTE;
            let earliest = plan.delay_s + HOUR;
            if latest <= earliest {
                return None;
            }
            let start_s = rng.random_range(earliest..latest);
            let span = Span {
                start_s,
                end_s: i64::MAX / 4,
            };
            plan.shape = Some(PowerShape {
                fault,
                span,
                period_s: 1,
            });
            Some(NovelPlan {
                fault,
                span,
                half_period_s: 0,
                amplitude: 0.0,
                earliest_unplug_s: start_s + 150 * MINUTE,
            })
        }
        NovelFault::RegisterSawtooth => {
            let half_period_s = rng.random_range(20..=40) * MINUTE;
            let cycles = rng.random_range(2..=4);
            let length = 2 * half_period_s * cycles;
            // The register must be back on the true energy before charging ends.
            let latest = charging_until - length - 10 * MINUTE;
            let earliest = plan.delay_s + 30 * MINUTE;
            if latest <= earliest {
                return None;
            }
            let start_s = rng.random_range(earliest..latest);
            let span = Span {
                start_s,
                end_s: start_s + length,
            };
            Some(NovelPlan {
                fault,
                span,
                half_period_s,
                amplitude: rng.random_range(0.5..0.8),
                earliest_unplug_s: span.end_s + 20 * MINUTE,
            })
        }
    }
}

/// Applies the meter side of the fault to the sampled rows and returns the
/// label: the buckets of the window's rows that the fault affects.
pub(crate) fn apply_and_label(
    novel: &NovelPlan,
    rows: &mut [Row],
    trace: &Trace,
    start: i64,
    window: Window,
) -> Option<Label> {
    if novel.fault == NovelFault::RegisterSawtooth {
        for row in rows.iter_mut() {
            row.energy_kwh += register_error(novel, trace, row.ts - start);
        }
    }
    let affected = |r: &&Row| {
        let t = r.ts - start;
        novel.span.contains(t) && (novel.fault != NovelFault::PhaseLoss || r.power_kw > 0.0)
    };
    let mut hit = rows.iter().filter(|r| window.contains(r.ts)).filter(affected);
    let first = hit.next()?;
    let last = hit.next_back().unwrap_or(first);
    let label = Label {
        category: AnomalyCategory::UnusualPattern,
        start_unit: window.bucket(first.ts),
        end_unit: window.bucket(last.ts),
    };
    // Enough normal charging in the window to compare with, and enough of
    // the fault to be a pattern rather than a blip.
    let normal_before = label.start_unit >= 3;
    let long_enough = label.end_unit - label.start_unit >= 3;
    (normal_before && long_enough).then_some(label)
}

/// The sawtooth: the register runs `1 + amplitude` times too fast over the
/// first half of each cycle and gives the excess back over the second half.
fn register_error(novel: &NovelPlan, trace: &Trace, t: i64) -> f64 {
    if !novel.span.contains(t) {
        return 0.0;
    }
    let cycle = 2 * novel.half_period_s;
    let cycle_start = novel.span.start_s + (t - novel.span.start_s) / cycle * cycle;
    let mid = cycle_start + novel.half_period_s;
    let energy = |s: i64| trace.at(s).energy_kwh;
    let first_half = energy(mid) - energy(cycle_start);
    if t < mid {
        novel.amplitude * (energy(t) - energy(cycle_start))
    } else {
        let second_half = energy(cycle_start + cycle) - energy(mid);
        let done = if second_half > 0.0 {
            ((energy(t) - energy(mid)) / second_half).clamp(0.0, 1.0)
        } else {
            1.0
        };
        novel.amplitude * first_half * (1.0 - done)
    }
}

/// Phase loss on a meter that reports per-phase currents: all of the
/// current on L1, none on L2 and L3, from the fault on.
pub(crate) fn rewrite_meter_values(novel: &NovelPlan, values: &mut [MeterValue], start: i64) {
    if novel.fault != NovelFault::PhaseLoss {
        return;
    }
    for mv in values.iter_mut() {
        if mv.measurand != Some(Measurand::CurrentImport) {
            continue;
        }
        let Ok(ts) = DateTime::parse_from_rfc3339(&mv.timestamp) else {
            continue;
        };
        if !novel.span.contains(ts.timestamp() - start) {
            continue;
        }
        match mv.phase {
            Some(Phase::L1) => mv.value = crate::output::round(mv.value * 3.0, 1),
            Some(Phase::L2 | Phase::L3) => mv.value = 0.0,
            _ => {}
        }
    }
}
