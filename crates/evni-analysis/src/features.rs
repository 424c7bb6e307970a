//! The bucket feature matrix the learned models (CSAR-2, CSAR-C-2) read:
//! [`BUCKETS`] rows of [`FEATURES`] values, built from the [`Series`] plus
//! one extra pass over the window's readings (per-bucket minimum power and
//! phase imbalance, which the series does not keep).
//!
//! Normalised per session so that a 3.7 kW AC charge and a 300 kW DC charge
//! look alike when they behave alike: powers and energies are relative to
//! the session's plateau, reading counts to the busiest bucket. Buckets past
//! the session's last reading are all zeros; a bucket without readings has
//! `known = 0` and zeros elsewhere.
//!
//! Changing what a feature means changes [`FEATURE_VERSION`]: models record
//! the version they were trained on and refuse another.

use evni_domain::{Measurand, Micros, Phase, Reading};

use crate::series::{Series, DELIVERING_KW};
use crate::window::BUCKETS;
use crate::SessionContext;

/// Values per bucket.
pub const FEATURES: usize = 13;
/// Length of the flattened matrix.
pub const INPUTS: usize = BUCKETS * FEATURES;
/// Bumped whenever a feature's definition changes.
pub const FEATURE_VERSION: u32 = 2;

/// Name of each feature, in column order (recorded in model sidecars).
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "in_sequence",
    "known",
    "power_rel_plateau",
    "peak_power_rel_plateau",
    "min_power_rel_plateau",
    "active_sample_share",
    "energy_rel_plateau_bucket",
    "register_minus_reported_power_rel_plateau",
    "soc_fraction",
    "soc_known",
    "readings_rel_busiest_bucket",
    "phase_current_imbalance",
    "power_switches",
];

/// Column indices, for code that reads single features.
pub mod column {
    pub const IN_SEQUENCE: usize = 0;
    pub const KNOWN: usize = 1;
    pub const POWER: usize = 2;
    pub const PEAK: usize = 3;
    pub const MIN_POWER: usize = 4;
    pub const ACTIVE_SHARE: usize = 5;
    pub const ENERGY: usize = 6;
    pub const ENERGY_POWER_GAP: usize = 7;
    pub const SOC: usize = 8;
    pub const SOC_KNOWN: usize = 9;
    pub const READINGS: usize = 10;
    pub const PHASE_IMBALANCE: usize = 11;
    pub const SWITCHING: usize = 12;
}

/// Relative values are clipped here: a wild outlier must not dominate a
/// squared reconstruction error.
const REL_CLIP: f64 = 4.0;
const BUCKET_HOURS: f64 = 0.25;
/// Per-phase currents below this (A) say nothing about imbalance.
const IMBALANCE_MIN_AMPS: f64 = 1.0;
/// Switches between delivering and not in one bucket are counted up to
/// this many: a charge starting or stopping switches once, anything that
/// switches again and again is alike however often it is sampled.
const MAX_SWITCHES: u32 = 4;

/// The feature matrix of one session window.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionFeatures {
    /// Row-major: `values[bucket * FEATURES + feature]`.
    pub values: [f32; INPUTS],
    /// Buckets 0..sequence_length are inside the session.
    pub sequence_length: usize,
    /// The plateau the powers are relative to (kW); 0 when nothing delivered.
    pub plateau_kw: f64,
}

impl SessionFeatures {
    pub fn row(&self, bucket: usize) -> &[f32] {
        &self.values[bucket * FEATURES..(bucket + 1) * FEATURES]
    }

    pub fn get(&self, bucket: usize, feature: usize) -> f32 {
        self.values[bucket * FEATURES + feature]
    }
}

/// Windows the readings and builds the features; `None` when the session is
/// not analysable (fewer than [`crate::MIN_READINGS`] readings, no usable
/// measurand). `readings` as for [`crate::analyze`].
pub fn extract_from_readings(readings: &[Reading], context: &SessionContext) -> Option<SessionFeatures> {
    if readings.len() < crate::MIN_READINGS {
        return None;
    }
    let window = crate::window::window(readings);
    let series = Series::build(window, context);
    series.has_usable_signal().then(|| extract(&series))
}

/// The features of a built series.
pub fn extract(series: &Series) -> SessionFeatures {
    let mut values = [0f32; INPUTS];
    let n = series.sequence_length.min(BUCKETS);
    let plateau = series.plateau_kw.filter(|p| *p > DELIVERING_KW).or_else(|| {
        series
            .bucket_powers()
            .map(|(_, p)| p)
            .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))))
            .filter(|p| *p > DELIVERING_KW)
    });
    let rel = |kw: f64| plateau.map_or(0.0, |p| (kw / p).clamp(-REL_CLIP, REL_CLIP));
    let raw = RawBucketFacts::collect(series);
    let busiest = series.buckets[..n]
        .iter()
        .map(|b| b.readings)
        .max()
        .unwrap_or(0)
        .max(1) as f64;

    for (i, b) in series.buckets[..n].iter().enumerate() {
        let row = &mut values[i * FEATURES..(i + 1) * FEATURES];
        row[column::IN_SEQUENCE] = 1.0;
        if b.readings == 0 {
            continue;
        }
        row[column::KNOWN] = 1.0;
        let power = b.power_kw.unwrap_or(0.0);
        row[column::POWER] = rel(power) as f32;
        if b.power_samples > 0 {
            row[column::PEAK] = rel(b.peak_kw) as f32;
            row[column::MIN_POWER] = rel(raw.min_power[i]) as f32;
            row[column::ACTIVE_SHARE] = (b.active_samples as f64 / b.power_samples as f64) as f32;
            if b.register_hours > 0.0 {
                let register_kw = b.delivered_kwh / b.register_hours;
                row[column::ENERGY_POWER_GAP] =
                    rel(register_kw - power).clamp(-REL_CLIP / 2.0, REL_CLIP / 2.0) as f32;
            }
        } else {
            row[column::PEAK] = row[column::POWER];
            row[column::MIN_POWER] = row[column::POWER];
            row[column::ACTIVE_SHARE] = f32::from(u8::from(power > DELIVERING_KW));
        }
        row[column::ENERGY] =
            plateau.map_or(0.0, |p| (b.delivered_kwh / (p * BUCKET_HOURS)).min(REL_CLIP)) as f32;
        if let Some(soc) = b.soc {
            row[column::SOC] = (soc / 100.0).clamp(0.0, 1.0) as f32;
            row[column::SOC_KNOWN] = 1.0;
        }
        row[column::READINGS] = (b.readings as f64 / busiest) as f32;
        // A count, not a rate per sample: a rate makes power toggling every
        // few minutes look calmer the more often the meter reports.
        row[column::SWITCHING] = (raw.switches[i].min(MAX_SWITCHES) as f64 / f64::from(MAX_SWITCHES)) as f32;
        if raw.imbalance_instants[i] > 0 {
            row[column::PHASE_IMBALANCE] = (raw.imbalance_sum[i] / raw.imbalance_instants[i] as f64) as f32;
        }
    }
    SessionFeatures {
        values,
        sequence_length: n,
        plateau_kw: plateau.unwrap_or(0.0),
    }
}

/// Per-bucket facts from the raw readings.
struct RawBucketFacts {
    min_power: [f64; BUCKETS],
    /// Consecutive power samples in the bucket that switch between
    /// delivering and not (a charge starting or ending switches once).
    switches: [u32; BUCKETS],
    imbalance_sum: [f64; BUCKETS],
    imbalance_instants: [u32; BUCKETS],
}

impl RawBucketFacts {
    fn collect(series: &Series) -> Self {
        let mut facts = RawBucketFacts {
            min_power: [f64::INFINITY; BUCKETS],
            switches: [0; BUCKETS],
            imbalance_sum: [0.0; BUCKETS],
            imbalance_instants: [0; BUCKETS],
        };
        let mut previous: Option<(usize, bool)> = None;
        for (ts, kw) in series.power_samples_in(0, BUCKETS - 1) {
            let b = series.bucket_at(ts);
            facts.min_power[b] = facts.min_power[b].min(kw);
            let delivering = kw > DELIVERING_KW;
            if let Some((pb, was)) = previous {
                if pb == b && was != delivering {
                    facts.switches[b] += 1;
                }
            }
            previous = Some((b, delivering));
        }
        for m in &mut facts.min_power {
            if !m.is_finite() {
                *m = 0.0;
            }
        }
        // Per-phase currents of one instant, L1..L3.
        let mut phases: [Option<f64>; 3] = [None; 3];
        let mut instant_ts: Option<Micros> = None;
        let location = series.power_location;
        let flush = |ts: Micros, phases: &mut [Option<f64>; 3], facts: &mut RawBucketFacts| {
            let present: Vec<f64> = phases.iter().flatten().copied().collect();
            *phases = [None; 3];
            if present.len() < 2 {
                return;
            }
            let max = present.iter().copied().fold(f64::MIN, f64::max);
            let min = present.iter().copied().fold(f64::MAX, f64::min);
            if max < IMBALANCE_MIN_AMPS {
                return;
            }
            let b = series.bucket_at(ts);
            facts.imbalance_sum[b] += (max - min) / max;
            facts.imbalance_instants[b] += 1;
        };
        for r in series.readings {
            if r.measurand != Measurand::CurrentImport || r.location != location {
                continue;
            }
            let Some(slot) = phase_slot(r.phase) else { continue };
            if instant_ts != Some(r.ts) {
                if let Some(ts) = instant_ts {
                    flush(ts, &mut phases, &mut facts);
                }
                instant_ts = Some(r.ts);
            }
            phases[slot] = Some(r.normalized().max(0.0));
        }
        if let Some(ts) = instant_ts {
            flush(ts, &mut phases, &mut facts);
        }
        facts
    }
}

fn phase_slot(phase: Option<Phase>) -> Option<usize> {
    match phase? {
        Phase::L1 | Phase::L1N => Some(0),
        Phase::L2 | Phase::L2N => Some(1),
        Phase::L3 | Phase::L3N => Some(2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evni_domain::{Location, UnitOfMeasure, MICROS_PER_MINUTE};

    fn reading(minute: i64, measurand: Measurand, phase: Option<Phase>, value: f64) -> Reading {
        Reading {
            ts: minute * MICROS_PER_MINUTE,
            measurand,
            phase,
            location: Location::Outlet,
            unit: Some(match measurand {
                Measurand::EnergyActiveImportRegister => UnitOfMeasure::KWh,
                Measurand::PowerActiveImport => UnitOfMeasure::KW,
                Measurand::CurrentImport => UnitOfMeasure::A,
                _ => UnitOfMeasure::Percent,
            }),
            value,
            context: None,
        }
    }

    /// An 11 kW charge for 2 h sampled every 5 min, register and power.
    fn steady(minutes: i64) -> Vec<Reading> {
        let mut out = Vec::new();
        for m in (0..=minutes).step_by(5) {
            out.push(reading(
                m,
                Measurand::EnergyActiveImportRegister,
                None,
                1000.0 + 11.0 * m as f64 / 60.0,
            ));
            out.push(reading(m, Measurand::PowerActiveImport, None, 11.0));
        }
        out
    }

    #[test]
    fn a_steady_charge_is_at_plateau_in_every_bucket() {
        let f = extract_from_readings(&steady(120), &SessionContext::default()).unwrap();
        assert_eq!(f.sequence_length, 9);
        for b in 0..8 {
            assert_eq!(f.get(b, column::IN_SEQUENCE), 1.0);
            assert_eq!(f.get(b, column::KNOWN), 1.0);
            assert!((f.get(b, column::POWER) - 1.0).abs() < 1e-6);
            assert!((f.get(b, column::MIN_POWER) - 1.0).abs() < 1e-6);
            // Bucket 0 holds only the increases after the first reading.
            let least = if b == 0 { 0.6 } else { 0.9 };
            assert!(
                f.get(b, column::ENERGY) > least,
                "bucket {b}: {}",
                f.get(b, column::ENERGY)
            );
            assert!(f.get(b, column::ENERGY_POWER_GAP).abs() < 0.05);
            assert_eq!(f.get(b, column::SOC_KNOWN), 0.0);
        }
        // Past the last reading: all zeros.
        assert!(f.row(9).iter().all(|v| *v == 0.0));
    }

    #[test]
    fn features_are_relative_to_the_plateau() {
        let scaled: Vec<Reading> = steady(120)
            .into_iter()
            .map(|mut r| {
                r.value *= 10.0;
                r
            })
            .collect();
        let a = extract_from_readings(&steady(120), &SessionContext::default()).unwrap();
        let b = extract_from_readings(&scaled, &SessionContext::default()).unwrap();
        for i in 0..INPUTS {
            assert!((a.values[i] - b.values[i]).abs() < 1e-3, "feature {i}");
        }
    }

    #[test]
    fn one_phase_carrying_the_current_is_imbalance() {
        let mut readings = steady(60);
        for m in (0..=60).step_by(5) {
            let (l1, rest) = if m >= 30 { (48.0, 0.0) } else { (16.0, 16.0) };
            readings.push(reading(m, Measurand::CurrentImport, Some(Phase::L1), l1));
            readings.push(reading(m, Measurand::CurrentImport, Some(Phase::L2), rest));
            readings.push(reading(m, Measurand::CurrentImport, Some(Phase::L3), rest));
        }
        readings.sort_by_key(|r| r.key());
        let f = extract_from_readings(&readings, &SessionContext::default()).unwrap();
        assert_eq!(f.get(0, column::PHASE_IMBALANCE), 0.0);
        assert!((f.get(3, column::PHASE_IMBALANCE) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn power_switching_on_and_off_counts_alike_at_any_sampling() {
        for step in [1, 3, 5] {
            let mut readings = Vec::new();
            let mut energy = 1000.0;
            for m in (0..=60).step_by(step) {
                // Full power, then off every other 5 minutes from minute 30.
                let on = m < 30 || (m / 5) % 2 == 0;
                let kw = if on { 11.0 } else { 0.0 };
                readings.push(reading(m, Measurand::EnergyActiveImportRegister, None, energy));
                readings.push(reading(m, Measurand::PowerActiveImport, None, kw));
                energy += kw * step as f64 / 60.0;
            }
            let f = extract_from_readings(&readings, &SessionContext::default()).unwrap();
            assert_eq!(f.get(0, column::SWITCHING), 0.0, "every {step} min");
            assert!(
                f.get(2, column::SWITCHING) >= 0.5,
                "every {step} min: {}",
                f.get(2, column::SWITCHING)
            );
        }
        // A charge ending switches once.
        let mut readings = steady(60);
        for m in (65..=120).step_by(5) {
            readings.push(reading(m, Measurand::EnergyActiveImportRegister, None, 1011.0));
            readings.push(reading(m, Measurand::PowerActiveImport, None, 0.0));
        }
        let f = extract_from_readings(&readings, &SessionContext::default()).unwrap();
        assert_eq!(f.get(4, column::SWITCHING), 0.25);
    }

    #[test]
    fn too_few_readings_have_no_features() {
        assert!(extract_from_readings(&steady(120)[..2], &SessionContext::default()).is_none());
    }
}
