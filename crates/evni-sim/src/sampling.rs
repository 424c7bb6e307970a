//! When the charger samples, and what it reads at each sample.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::profile::Trace;

/// Keeps a session's request size sane (12 h at 30 s would be 1,440 samples
/// of up to nine measurands each).
const MAX_SAMPLES: i64 = 1400;

/// One sampling instant with every quantity the meter knows. Which of them
/// are sent is decided when the request is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Row {
    /// Unix seconds.
    pub ts: i64,
    /// Lifetime register, kWh.
    pub energy_kwh: f64,
    pub power_kw: f64,
    pub soc: f64,
}

/// Sample times from plug-in (`start`) to unplug: a Transaction.Begin
/// reading, periodic readings every `interval_s` with a little clock jitter,
/// and a Transaction.End reading. Sometimes a single periodic reading is lost.
pub(crate) fn timestamps(rng: &mut ChaCha8Rng, start: i64, duration_s: i64, interval_s: i64) -> Vec<i64> {
    let mut interval = interval_s;
    if duration_s / interval > MAX_SAMPLES {
        interval = (duration_s / MAX_SAMPLES / 30 + 1) * 30;
    }
    let jitter = (interval / 20).clamp(1, 3);
    let mut out = vec![start];
    let mut k = 1;
    // Periodic samples stop a third of an interval before the end so the
    // final reading does not crowd the last periodic one.
    while k * interval < duration_s - interval / 3 {
        out.push(start + k * interval + rng.random_range(-jitter..=jitter));
        k += 1;
    }
    out.push(start + duration_s);
    if out.len() > 6 && rng.random_bool(0.2) {
        let missed = rng.random_range(2..out.len() - 2);
        out.remove(missed);
    }
    out
}

/// Reads the trace at each sample time. Power readings carry meter noise
/// but never exceed `max_kw` (the connector's rating).
pub(crate) fn read(
    rng: &mut ChaCha8Rng,
    trace: &Trace,
    start: i64,
    register_kwh: f64,
    timestamps: &[i64],
    max_kw: f64,
) -> Vec<Row> {
    timestamps
        .iter()
        .map(|&ts| {
            let p = trace.at(ts - start);
            let power_kw = if p.power_kw > 0.0 {
                (p.power_kw * (1.0 + rng.random_range(-0.008..0.008))).min(max_kw)
            } else {
                0.0
            };
            Row {
                ts,
                energy_kwh: register_kwh + p.energy_kwh,
                power_kw,
                soc: p.soc,
            }
        })
        .collect()
}
