//! Faults of delivery itself, planned before the physics runs so that
//! power, register and SoC all follow them.

use evni_domain::AnomalyCategory as Cat;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::output::Label;
use crate::profile::{ChargePlan, Span, Trace};
use crate::sampling::Row;
use crate::window::Window;

const MINUTE: i64 = 60;

#[derive(Debug, Clone, Copy)]
pub(crate) enum DeliveryFault {
    /// ENERGY_PIT: delivery drops out during the span, then recovers.
    Pit(Span),
    /// CHARGING_EXPECTED: delivery stops for good at this time.
    Stop(i64),
    /// ZERO_SESSION: connected, nothing delivered.
    Zero,
}

/// How a delivery fault shapes the session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeliveryPlan {
    pub fault: DeliveryFault,
    /// The session's length when the fault fixes it.
    pub duration_s: Option<i64>,
    /// Otherwise, the vehicle stays at least this long.
    pub earliest_unplug_s: i64,
}

/// Changes `plan` for a delivery fault, placed with the help of the
/// fault-free trace `base`.
pub(crate) fn plan_delivery_fault(
    rng: &mut ChaCha8Rng,
    category: Cat,
    plan: &mut ChargePlan,
    base: &Trace,
) -> Option<DeliveryPlan> {
    let charging_from = plan.delay_s + 30 * MINUTE;
    let charging_until = base
        .complete_s
        .unwrap_or((base.points.len() as i64 - 1) * crate::profile::STEP_S);
    if category == Cat::ZeroSession {
        plan.no_delivery = true;
        let duration_s = rng.random_range(20..=200) * MINUTE;
        return Some(DeliveryPlan {
            fault: DeliveryFault::Zero,
            duration_s: Some(duration_s),
            earliest_unplug_s: 0,
        });
    }
    if charging_until <= charging_from + 40 * MINUTE {
        return None;
    }
    match category {
        Cat::EnergyPit => {
            let peak = base.peak_kw();
            // Full power for half an hour before and after the pit, so the
            // buckets around it are clearly at plateau level.
            let steady = |t: i64| (-30..=35).all(|m| base.at(t + m * MINUTE).power_kw >= 0.8 * peak);
            let start_s = (0..40)
                .map(|_| rng.random_range(charging_from..charging_until - 35 * MINUTE))
                .find(|&t| steady(t))?;
            let span = Span {
                start_s,
                end_s: start_s + rng.random_range(35..=100) * MINUTE,
            };
            let level = if rng.random_bool(0.7) {
                0.0
            } else {
                peak * rng.random_range(0.01..0.05)
            };
            plan.pause = Some((span, level));
            let earliest_unplug_s = span.end_s + 40 * MINUTE;
            Some(DeliveryPlan {
                fault: DeliveryFault::Pit(span),
                duration_s: None,
                earliest_unplug_s,
            })
        }
        Cat::ChargingExpected => {
            let stop_s = (0..40)
                .map(|_| rng.random_range(charging_from..charging_until))
                .find(|&t| (12.0..70.0).contains(&base.at(t).soc) && base.at(t).power_kw > 0.0)?;
            plan.stop_s = Some(stop_s);
            let duration_s = stop_s + rng.random_range(45..=180) * MINUTE;
            Some(DeliveryPlan {
                fault: DeliveryFault::Stop(stop_s),
                duration_s: Some(duration_s),
                earliest_unplug_s: 0,
            })
        }
        _ => None,
    }
}

/// The label of a delivery fault: the buckets of the readings it affects.
pub(crate) fn label_delivery_fault(
    fault: DeliveryFault,
    rows: &[Row],
    window: Window,
    start: i64,
) -> Option<Label> {
    let affected = |r: &&Row| match fault {
        DeliveryFault::Pit(span) => span.contains(r.ts - start),
        DeliveryFault::Stop(stop_s) => r.ts - start >= stop_s,
        DeliveryFault::Zero => true,
    };
    let mut hit = rows.iter().filter(|r| window.contains(r.ts)).filter(affected);
    let first = hit.next()?;
    let last = hit.next_back().unwrap_or(first);
    let (category, start_unit) = match fault {
        DeliveryFault::Pit(_) => (Cat::EnergyPit, window.bucket(first.ts)),
        DeliveryFault::Stop(_) => (Cat::ChargingExpected, window.bucket(first.ts)),
        // The whole window.
        DeliveryFault::Zero => (Cat::ZeroSession, 0),
    };
    // Charging must show in whole buckets before a pit or a stop: a fault
    // starting in the window's first bucket has no "before" to compare with.
    if category != Cat::ZeroSession && start_unit == 0 {
        return None;
    }
    Some(Label {
        category,
        start_unit,
        end_unit: window.bucket(last.ts),
    })
}
