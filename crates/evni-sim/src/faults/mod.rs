//! Fault injection. Delivery faults (ENERGY_PIT, CHARGING_EXPECTED,
//! ZERO_SESSION) change the physics before sampling; meter faults change
//! what the meter reports after sampling. Each returns the label of what it
//! injected, or `None` when this session offers no suitable place (the
//! session is then drawn again).

mod delivery;
mod meter;
mod telemetry;

use evni_domain::AnomalyCategory as Cat;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub(crate) use delivery::{label_delivery_fault, plan_delivery_fault, DeliveryPlan};

use crate::output::Label;
use crate::sampling::Row;
use crate::window::Window;

/// What the meter faults may rely on.
pub(crate) struct MeterContext<'a> {
    pub rows: &'a mut Vec<Row>,
    pub window: Window,
    /// Connector rating, kW.
    pub rated_kw: f64,
    pub soc_reported: bool,
}

impl MeterContext<'_> {
    /// Index of a random row inside the window whose predecessor is inside
    /// too, satisfying `ok`; a few tries, then `None`.
    fn pick_row(&self, rng: &mut ChaCha8Rng, ok: impl Fn(usize) -> bool) -> Option<usize> {
        let first = self.rows.iter().position(|r| r.ts >= self.window.t0)? + 1;
        if first >= self.rows.len() {
            return None;
        }
        (0..40)
            .map(|_| rng.random_range(first..self.rows.len()))
            .find(|&i| ok(i))
    }

    fn bucket(&self, row: usize) -> u32 {
        self.window.bucket(self.rows[row].ts)
    }

    fn label(&self, category: Cat, first_row: usize, last_row: usize) -> Label {
        Label {
            category,
            start_unit: self.bucket(first_row),
            end_unit: self.bucket(last_row),
        }
    }
}

/// Injects a meter fault of `category` into the sampled rows.
pub(crate) fn inject_meter_fault(
    rng: &mut ChaCha8Rng,
    category: Cat,
    ctx: &mut MeterContext,
) -> Option<Label> {
    match category {
        Cat::KwhDecrease => meter::kwh_decrease(rng, ctx),
        Cat::EnergyJump => meter::energy_jump(rng, ctx),
        Cat::MeterStuck => meter::meter_stuck(rng, ctx),
        Cat::PowerSpike => telemetry::power_spike(rng, ctx),
        Cat::SocDecrease => telemetry::soc_decrease(rng, ctx),
        Cat::DataGap => telemetry::data_gap(rng, ctx),
        _ => None,
    }
}

/// Log-uniform draw, for magnitudes spanning orders of magnitude.
fn log_uniform(rng: &mut ChaCha8Rng, low: f64, high: f64) -> f64 {
    (rng.random_range(low.ln()..high.ln())).exp()
}
