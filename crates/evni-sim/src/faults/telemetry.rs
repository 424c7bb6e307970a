//! Faults of the reported telemetry: a power glitch, a falling SoC, and
//! telemetry that stops and comes back.

use evni_domain::AnomalyCategory as Cat;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::MeterContext;
use crate::output::Label;
use crate::window::BUCKET_S;

/// One (sometimes two, within one bucket) Power.Active.Import readings far
/// above the session's level. The register is unaffected: nothing was
/// delivered, the meter misread.
pub(super) fn power_spike(rng: &mut ChaCha8Rng, ctx: &mut MeterContext) -> Option<Label> {
    let window = ctx.window;
    let peak = ctx
        .rows
        .iter()
        .filter(|r| window.contains(r.ts))
        .map(|r| r.power_kw)
        .fold(0.0, f64::max);
    let k = ctx.pick_row(rng, |i| ctx.rows[i].power_kw >= 0.7 * peak)?;
    let spike = |rng: &mut ChaCha8Rng| {
        f64::max(
            peak * rng.random_range(2.5..8.0),
            peak + rng.random_range(10.0..40.0),
        )
    };
    ctx.rows[k].power_kw = spike(rng);
    let mut last = k;
    let next_in_bucket = k + 1 < ctx.rows.len() && ctx.bucket(k + 1) == ctx.bucket(k);
    if next_in_bucket && ctx.rows[k + 1].ts - ctx.rows[k].ts <= BUCKET_S / 5 && rng.random_bool(0.3) {
        ctx.rows[k + 1].power_kw = spike(rng);
        last = k + 1;
    }
    Some(ctx.label(Cat::PowerSpike, k, last))
}

/// SoC falls by several points between two readings: either one bad reading
/// (the next is right again) or a lasting recalibration of the BMS.
pub(super) fn soc_decrease(rng: &mut ChaCha8Rng, ctx: &mut MeterContext) -> Option<Label> {
    if !ctx.soc_reported {
        return None;
    }
    let glitch = rng.random_bool(0.5);
    let drop = if glitch {
        rng.random_range(5.0..35.0)
    } else {
        rng.random_range(4.0..20.0)
    };
    let k = ctx.pick_row(rng, |i| ctx.rows[i - 1].soc - drop >= 1.0)?;
    let new_soc = ctx.rows[k - 1].soc - drop;
    if glitch {
        ctx.rows[k].soc = new_soc;
    } else {
        // A lasting offset must not leave an idle tail reporting a low SoC:
        // that would read as CHARGING_EXPECTED.
        let last = ctx.rows[ctx.rows.len() - 1];
        let offset = ctx.rows[k].soc - new_soc;
        if last.power_kw <= 0.0 && last.soc - offset < 90.0 {
            return None;
        }
        for row in &mut ctx.rows[k..] {
            row.soc -= offset;
        }
    }
    Some(ctx.label(Cat::SocDecrease, k, k))
}

/// No reading at all for a while, well past 30 min and 3× the sampling
/// interval. Energy keeps flowing during the gap, so the register after it
/// reflects normal power.
pub(super) fn data_gap(rng: &mut ChaCha8Rng, ctx: &mut MeterContext) -> Option<Label> {
    let mut intervals: Vec<i64> = ctx.rows.windows(2).map(|p| p[1].ts - p[0].ts).collect();
    intervals.sort_unstable();
    let median = *intervals.get(intervals.len() / 2)?;
    let gap_s = (i64::max(1800, 3 * median) as f64 * rng.random_range(1.3..2.5)) as i64;
    let resume = |a: usize| {
        a + ctx.rows[a..]
            .iter()
            .take_while(|r| r.ts < ctx.rows[a].ts + gap_s)
            .count()
    };
    let a = ctx.pick_row(rng, |a| resume(a) + 2 <= ctx.rows.len())?;
    let b = resume(a);
    ctx.rows.drain(a + 1..b);
    Some(ctx.label(Cat::DataGap, a, a + 1))
}
