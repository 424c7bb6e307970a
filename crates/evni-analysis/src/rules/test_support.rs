//! Hand-built sessions for the detector unit tests.

use evni_domain::{Anomaly, Location, Measurand, Micros, Reading, UnitOfMeasure, MICROS_PER_SECOND};

use super::Rule;
use crate::series::Series;
use crate::window::window;
use crate::SessionContext;

/// 2026-06-07T10:00:00Z.
pub const T0: Micros = 1_780_826_400 * MICROS_PER_SECOND;

pub fn reading(ts: Micros, measurand: Measurand, unit: Option<UnitOfMeasure>, value: f64) -> Reading {
    Reading {
        ts,
        measurand,
        phase: None,
        location: Location::Outlet,
        unit,
        value,
        context: None,
    }
}

fn at(i: usize, interval_s: i64) -> Micros {
    T0 + i as i64 * interval_s * MICROS_PER_SECOND
}

/// A register in Wh, one reading every `interval_s`.
pub fn register_wh(values: &[f64], interval_s: i64) -> Vec<Reading> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            reading(
                at(i, interval_s),
                Measurand::EnergyActiveImportRegister,
                Some(UnitOfMeasure::Wh),
                *v,
            )
        })
        .collect()
}

/// SoC readings every `interval_s`.
pub fn soc_series(values: &[f64], interval_s: i64) -> Vec<Reading> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            reading(
                at(i, interval_s),
                Measurand::SoC,
                Some(UnitOfMeasure::Percent),
                *v,
            )
        })
        .collect()
}

/// Power (kW) at `levels[b]` during bucket b, with the matching Wh register,
/// one reading each every `interval_s`.
pub fn power_profile(levels: &[f64], interval_s: i64) -> Vec<Reading> {
    let count = levels.len() * 900 / interval_s as usize;
    let mut register = 30_000_000.0;
    let mut out = Vec::with_capacity(2 * count);
    for i in 0..count {
        let kw = levels[i * interval_s as usize / 900];
        let ts = at(i, interval_s);
        out.push(reading(
            ts,
            Measurand::EnergyActiveImportRegister,
            Some(UnitOfMeasure::Wh),
            register,
        ));
        out.push(reading(
            ts,
            Measurand::PowerActiveImport,
            Some(UnitOfMeasure::KW),
            kw,
        ));
        register += kw * 1000.0 * interval_s as f64 / 3600.0;
    }
    out
}

/// Adds SoC at every power reading, rising by `step` after each reading with
/// power.
pub fn with_soc(readings: &[Reading], start: f64, step: f64) -> Vec<Reading> {
    let mut soc = start;
    let mut out = Vec::with_capacity(readings.len() * 3 / 2);
    for r in readings {
        out.push(*r);
        if r.measurand == Measurand::PowerActiveImport {
            out.push(reading(r.ts, Measurand::SoC, Some(UnitOfMeasure::Percent), soc));
            if r.normalized() > 0.05 {
                soc += step;
            }
        }
    }
    out
}

/// Holds the register still from minute `from` to minute `to` (inclusive)
/// of a 1-minute profile; later readings continue from the frozen value.
pub fn freeze_register(readings: &mut [Reading], from: usize, to: usize) {
    let minute = |r: &Reading| ((r.ts - T0) / (60 * MICROS_PER_SECOND)) as usize;
    let register = |r: &&mut Reading| r.measurand == Measurand::EnergyActiveImportRegister;
    let frozen = readings
        .iter()
        .find(|r| r.measurand == Measurand::EnergyActiveImportRegister && minute(r) == from)
        .unwrap()
        .value;
    let resumed = readings
        .iter()
        .find(|r| r.measurand == Measurand::EnergyActiveImportRegister && minute(r) == to)
        .unwrap()
        .value;
    for r in readings.iter_mut().filter(register) {
        let m = minute(r);
        if (from..=to).contains(&m) {
            r.value = frozen;
        } else if m > to {
            r.value -= resumed - frozen;
        }
    }
}

pub fn run(rule: &dyn Rule, readings: &[Reading]) -> Vec<Anomaly> {
    run_with(rule, readings, &SessionContext::default())
}

pub fn run_with(rule: &dyn Rule, readings: &[Reading], context: &SessionContext) -> Vec<Anomaly> {
    let mut sorted = readings.to_vec();
    sorted.sort_by_key(|r| r.ts);
    let series = Series::build(window(&sorted), context);
    let mut out = Vec::new();
    rule.detect(&series, context, &mut out);
    out
}

pub fn range(a: &Anomaly) -> (u32, u32) {
    (a.bucket_range.start_unit, a.bucket_range.end_unit)
}

pub fn times(a: &Anomaly) -> (Micros, Micros) {
    let t = a.time_range.unwrap();
    (
        t.start_timestamp.unwrap().timestamp_micros(),
        t.end_timestamp.unwrap().timestamp_micros(),
    )
}

/// Sample offsets (s) from 0 to `minutes`: every `interval_s`, each moved
/// by a deterministic jitter of up to ±`jitter_s`; the last at `minutes`.
pub fn jittered_times(minutes: i64, interval_s: i64, jitter_s: i64) -> Vec<i64> {
    let end = minutes * 60;
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut out = vec![0];
    let mut k = 1;
    while k * interval_s < end {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let jitter = (seed >> 33) as i64 % (2 * jitter_s + 1) - jitter_s;
        out.push(k * interval_s + jitter);
        k += 1;
    }
    out.push(end);
    out
}

/// A charge sampled at `times` (s after T0): Power.Active.Import in kW from
/// `kw(t)`, and a kWh register counting `kw` exactly (1-s steps) that shows
/// whole multiples of `resolution_kwh`, as a meter truncates.
/// `frozen` (s, s) holds the register still over that span; it then counts
/// on from the frozen value (the energy is lost).
pub fn sampled_charge(
    times: &[i64],
    kw: impl Fn(i64) -> f64,
    resolution_kwh: f64,
    frozen: Option<(i64, i64)>,
) -> Vec<Reading> {
    let end = times.iter().copied().max().unwrap_or(0).max(0) as usize;
    let mut energy = Vec::with_capacity(end + 1);
    energy.push(1_000.0);
    for t in 0..end {
        energy.push(energy[t] + kw(t as i64) / 3600.0);
    }
    let at = |t: i64| energy[t as usize];
    let mut out = Vec::with_capacity(2 * times.len());
    for &t in times {
        let counted = match frozen {
            Some((from, to)) if (from..=to).contains(&t) => at(from),
            Some((from, to)) if t > to => at(t) - (at(to) - at(from)),
            _ => at(t),
        };
        let register = (counted / resolution_kwh + 1e-9).floor() * resolution_kwh;
        let ts = T0 + t * MICROS_PER_SECOND;
        out.push(reading(
            ts,
            Measurand::EnergyActiveImportRegister,
            Some(UnitOfMeasure::KWh),
            register,
        ));
        out.push(reading(
            ts,
            Measurand::PowerActiveImport,
            Some(UnitOfMeasure::KW),
            kw(t),
        ));
    }
    out
}
