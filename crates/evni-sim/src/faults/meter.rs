//! Faults of the energy register: it goes down, leaps, or freezes.

use evni_domain::AnomalyCategory as Cat;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{log_uniform, MeterContext};
use crate::output::Label;

/// The register falls and keeps counting from the lower value: a rollback
/// to an older value, or a reset of the meter to zero.
pub(super) fn kwh_decrease(rng: &mut ChaCha8Rng, ctx: &mut MeterContext) -> Option<Label> {
    let first_energy = ctx.rows[0].energy_kwh;
    let k = ctx.pick_row(rng, |i| ctx.rows[i - 1].energy_kwh - first_energy >= 0.5)?;
    let previous = ctx.rows[k - 1].energy_kwh;
    let target = if rng.random_bool(0.25) {
        // Reset: the register restarts near zero.
        (ctx.rows[k].energy_kwh - previous) * rng.random_range(0.0..1.0)
    } else {
        let delivered = previous - first_energy;
        let drop = (delivered * rng.random_range(0.05..0.8)).max(0.3);
        ctx.rows[k].energy_kwh - drop - (ctx.rows[k].energy_kwh - previous)
    };
    let offset = target - ctx.rows[k].energy_kwh;
    for row in &mut ctx.rows[k..] {
        row.energy_kwh += offset;
    }
    Some(ctx.label(Cat::KwhDecrease, k, k))
}

/// The register leaps by far more than the charger can deliver, then counts
/// on from there: a digit error, or one increment recorded in Wh as if kWh.
pub(super) fn energy_jump(rng: &mut ChaCha8Rng, ctx: &mut MeterContext) -> Option<Label> {
    let k = ctx.pick_row(rng, |i| {
        ctx.rows[i].power_kw > 0.0 && ctx.rows[i - 1].power_kw > 0.0
    })?;
    let hours = (ctx.rows[k].ts - ctx.rows[k - 1].ts) as f64 / 3600.0;
    let increment = ctx.rows[k].energy_kwh - ctx.rows[k - 1].energy_kwh;
    // Twice the threshold at least, whether or not the rating is known.
    let clear_kw = 2.0 * f64::max(400.0, 1.5 * ctx.rated_kw);
    let offset = if rng.random_bool(0.4) && increment * 1000.0 / hours > clear_kw {
        increment * 999.0
    } else {
        log_uniform(rng, clear_kw.max(2000.0), 40_000.0) * hours
    };
    for row in &mut ctx.rows[k..] {
        row.energy_kwh += offset;
    }
    Some(ctx.label(Cat::EnergyJump, k, k))
}

/// The register stops counting for 40–120 min while power keeps flowing;
/// afterwards it counts on from the frozen value (the energy is lost, not
/// caught up, which would be a jump).
pub(super) fn meter_stuck(rng: &mut ChaCha8Rng, ctx: &mut MeterContext) -> Option<Label> {
    let freeze_s = rng.random_range(40..=120) * 60;
    let frozen_until = |a: usize| {
        let end = ctx.rows[a].ts + freeze_s;
        a + ctx.rows[a + 1..].iter().take_while(|r| r.ts <= end).count()
    };
    let flowing = |a: usize| {
        let b = frozen_until(a);
        b >= a + 2 && ctx.rows[a..=b].iter().all(|r| r.power_kw >= 1.5)
    };
    let a = ctx.pick_row(rng, flowing)?;
    let b = frozen_until(a);
    let frozen = ctx.rows[a].energy_kwh;
    let lost = ctx.rows[b].energy_kwh - frozen;
    for row in &mut ctx.rows[a + 1..=b] {
        row.energy_kwh = frozen;
    }
    for row in &mut ctx.rows[b + 1..] {
        row.energy_kwh -= lost;
    }
    Some(ctx.label(Cat::MeterStuck, a + 1, b))
}
