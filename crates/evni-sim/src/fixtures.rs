//! Hand-built charging sessions for tests: a deterministic charger that
//! samples a power curve, integrates a lifetime energy register and SoC, and
//! reports them in chosen units and sampling. The analysis tests and the
//! model tests use the same builder for the "must stay normal" cases.

use evni_domain::{Location, Measurand, Micros, Reading, UnitOfMeasure};

pub const T0: Micros = 1_780_826_400_000_000; // 2026-06-07T10:00:00Z
pub const MINUTE: Micros = 60_000_000;

/// How a simulated charger reports.
#[derive(Clone, Copy)]
pub struct Meter {
    pub interval_s: i64,
    /// Jitter of each timestamp, as a share of the interval (deterministic).
    pub jitter: f64,
    pub energy_unit: UnitOfMeasure,
    pub power_unit: Option<UnitOfMeasure>,
    /// SoC at the start and battery capacity (kWh).
    pub soc: Option<(f64, f64)>,
}

impl Default for Meter {
    fn default() -> Self {
        Self {
            interval_s: 60,
            jitter: 0.0,
            energy_unit: UnitOfMeasure::Wh,
            power_unit: Some(UnitOfMeasure::W),
            soc: None,
        }
    }
}

pub fn reading(ts: Micros, measurand: Measurand, unit: UnitOfMeasure, value: f64) -> Reading {
    Reading {
        ts,
        measurand,
        phase: None,
        location: Location::Outlet,
        unit: Some(unit),
        value,
        context: None,
    }
}

/// Samples `power(minute, soc)` (kW) for `minutes`, integrating the register
/// (lifetime value) and SoC between samples. `skip` drops reading indices.
pub fn charge(meter: Meter, minutes: f64, skip: &[usize], power: impl Fn(f64, f64) -> f64) -> Vec<Reading> {
    let mut out = Vec::new();
    let mut register_kwh = 48_213.7;
    let mut soc = meter.soc.map_or(50.0, |s| s.0);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut prev_minute = 0.0;
    let mut i = 0;
    loop {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let unit = (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        let nominal = (i as i64 * meter.interval_s) as f64 / 60.0;
        let minute = if i == 0 {
            0.0
        } else {
            nominal + unit * meter.jitter * meter.interval_s as f64 / 60.0
        };
        if minute > minutes {
            break;
        }
        let kw = power(prev_minute, soc).max(0.0);
        register_kwh += kw * (minute - prev_minute) / 60.0;
        if let Some((_, capacity)) = meter.soc {
            soc = (soc + 100.0 * kw * (minute - prev_minute) / 60.0 / capacity).min(100.0);
        }
        prev_minute = minute;
        if !skip.contains(&i) {
            let ts = T0 + (minute * MINUTE as f64).round() as Micros;
            let energy = if meter.energy_unit == UnitOfMeasure::Wh {
                register_kwh * 1000.0
            } else {
                register_kwh
            };
            out.push(reading(
                ts,
                Measurand::EnergyActiveImportRegister,
                meter.energy_unit,
                energy,
            ));
            if let Some(unit) = meter.power_unit {
                let now = power(minute, soc).max(0.0);
                out.push(reading(
                    ts,
                    Measurand::PowerActiveImport,
                    unit,
                    if unit == UnitOfMeasure::W {
                        now * 1000.0
                    } else {
                        now
                    },
                ));
            }
            if meter.soc.is_some() {
                out.push(reading(
                    ts,
                    Measurand::SoC,
                    UnitOfMeasure::Percent,
                    (soc * 10.0).round() / 10.0,
                ));
            }
        }
        i += 1;
    }
    out
}

/// Small deterministic noise in [-amplitude, amplitude].
pub fn noise(minute: f64, amplitude: f64) -> f64 {
    ((minute * 12.9898).sin() * 43758.5453).fract() * amplitude
}

pub fn ac(minute: f64, _soc: f64) -> f64 {
    11.0 + noise(minute, 0.3)
}

/// DC: 120 kW to 55 % SoC, then tapering to a few kW near full.
pub fn dc(_minute: f64, soc: f64) -> f64 {
    if soc < 55.0 {
        120.0
    } else {
        (120.0 * (100.0 - soc) / 45.0).max(3.0) * if soc >= 99.9 { 0.0 } else { 1.0 }
    }
}
