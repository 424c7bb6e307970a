//! The prepared series of one session window: 24 fixed buckets plus the few
//! per-reading facts (register steps, SoC drops, gaps, frozen register runs)
//! that detectors need. Built in one pass by [`Series::build`].

mod build;
mod sampler;

pub use build::{
    DECREASE_MIN_KWH, MAX_RESOLUTION_KWH, RATED_JUMP_FACTOR, SOC_DROP_POINTS, SOC_RISE_POINTS,
    UNRATED_JUMP_KW,
};
pub use sampler::{time_weighted_mean, Instant, PowerSamples};

use evni_domain::{micros_to_datetime, Location, Measurand, Micros, Phase, Reading, TimeRange};

use crate::window::{BUCKET, BUCKETS};

/// A bucket delivers energy when its power is above this (kW): below any real
/// charge, above meter noise.
pub const DELIVERING_KW: f64 = 0.05;
/// Plateau percentile of analysis.md §3.
const PLATEAU_PERCENTILE: f64 = 0.9;
pub(crate) const MICROS_PER_HOUR: f64 = 3.6e9;

/// One 15-minute bucket. A bucket without readings is unknown, not zero.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bucket {
    pub readings: u32,
    pub first_ts: Micros,
    pub last_ts: Micros,
    /// Mean power (kW): reported samples, else energy over time.
    pub power_kw: Option<f64>,
    /// Power samples (reported or current × voltage) in the bucket.
    pub power_samples: u32,
    /// Highest single power sample and when it was taken.
    pub peak_kw: f64,
    pub peak_ts: Micros,
    /// Plausible register increase attributed to this bucket (kWh).
    pub delivered_kwh: f64,
    /// Last state of charge reported in the bucket.
    pub soc: Option<f64>,
    /// Energy was exported (V2G): SoC may fall legitimately.
    pub exporting: bool,
    pub register_drop: Option<Event>,
    pub register_jump: Option<Event>,
    pub soc_drop: Option<Event>,
    // Accumulators, folded into `power_kw` when the pass ends.
    pub(crate) power_sum: f64,
    pub(crate) active_sum: f64,
    pub(crate) active_samples: u32,
    pub(crate) register_hours: f64,
}

/// Something that happened between two consecutive readings of a stream.
/// Several in one bucket merge: the worst magnitude, the widest span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// Detector-specific size: kWh dropped, kW implied, SoC points lost.
    pub magnitude: f64,
    pub from_ts: Micros,
    pub to_ts: Micros,
    pub from_bucket: usize,
    pub count: u32,
}

impl Event {
    pub(crate) fn merge_into(self, slot: &mut Option<Event>) {
        match slot {
            None => *slot = Some(self),
            Some(old) => self.merge_into_event(old),
        }
    }

    pub(crate) fn merge_into_event(self, old: &mut Event) {
        *old = Event {
            magnitude: old.magnitude.max(self.magnitude),
            from_ts: old.from_ts.min(self.from_ts),
            to_ts: old.to_ts.max(self.to_ts),
            from_bucket: old.from_bucket.min(self.from_bucket),
            count: old.count + self.count,
        };
    }
}

/// No reading at all between two consecutive timestamps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gap {
    pub from_ts: Micros,
    pub to_ts: Micros,
}

/// A stretch over which the energy register kept exactly the same value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FrozenRun {
    /// The first reading with the value (the register's last change).
    pub since_ts: Micros,
    /// The first reading that repeats it: where the freeze shows.
    pub first_repeat_ts: Micros,
    pub last_ts: Micros,
    pub readings: u32,
    /// SoC before the run began, and how far it rose during it.
    pub soc_before: Option<f64>,
    pub soc_rise: f64,
}

/// A small fixed-capacity list: no allocation on the hot path. Items past
/// the capacity are dropped, which the callers' invariants rule out.
#[derive(Debug, Clone, Copy)]
pub struct Bounded<T: Copy + Default, const N: usize> {
    items: [T; N],
    len: usize,
}

impl<T: Copy + Default, const N: usize> Default for Bounded<T, N> {
    fn default() -> Self {
        Self {
            items: [T::default(); N],
            len: 0,
        }
    }
}

impl<T: Copy + Default, const N: usize> Bounded<T, N> {
    pub fn push(&mut self, item: T) {
        if self.len < N {
            self.items[self.len] = item;
            self.len += 1;
        }
    }

    pub fn as_slice(&self) -> &[T] {
        &self.items[..self.len]
    }
}

/// Facts about the energy register stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct Register {
    pub readings: u32,
    /// Location and phase of the register stream (its first reading's).
    pub stream: Option<(Location, Option<Phase>)>,
    /// Largest decrease between consecutive readings (kWh, >= 0).
    pub largest_drop_kwh: f64,
    /// Highest power implied by a register increase (kW).
    pub peak_rate_kw: f64,
    /// The register's resolution (kWh): the coarsest decimal step all its
    /// readings are multiples of, at most [`MAX_RESOLUTION_KWH`].
    pub resolution_kwh: f64,
}

/// Facts about the state-of-charge stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct Soc {
    pub readings: u32,
    pub first: Option<f64>,
    pub last: Option<f64>,
    /// Largest fall between consecutive readings while not exporting.
    pub largest_drop: f64,
}

/// The prepared series of one session window.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    /// The readings of the window, sorted by time.
    pub readings: &'a [Reading],
    pub t0: Micros,
    pub last_ts: Micros,
    /// Buckets 0..=last reading's bucket.
    pub sequence_length: usize,
    pub buckets: [Bucket; BUCKETS],
    /// Distinct reading timestamps.
    pub timestamps: u32,
    /// Median interval between consecutive timestamps (0 with one timestamp).
    pub median_interval: Micros,
    /// Longest interval between consecutive timestamps.
    pub longest_interval: Micros,
    /// Intervals of 30 min or more; at most 12 fit in 6 h.
    pub gaps: Bounded<Gap, 12>,
    /// Frozen register runs of 15 min or more; at most 24 fit in 6 h.
    pub frozen: Bounded<FrozenRun, 24>,
    pub register: Register,
    pub soc: Soc,
    /// Power samples (reported or current × voltage) in the window.
    pub power_samples: u32,
    /// Of those, how many were reported as Power.Active.Import.
    pub reported_power_samples: u32,
    pub power_location: Location,
    /// Energy delivered over the window (kWh): the register's plausible
    /// increase, else integrated power.
    pub delivered_kwh: f64,
    /// The session's typical charging power (kW), when any bucket delivered.
    pub plateau_kw: Option<f64>,
    /// Implied power above which a register increase is an ENERGY_JUMP.
    pub jump_threshold_kw: f64,
}

impl<'a> Series<'a> {
    /// Whether anything in the window can be analysed.
    pub fn has_usable_signal(&self) -> bool {
        self.register.readings > 0 || self.power_samples > 0 || self.soc.readings > 0
    }

    /// Known buckets `0..sequence_length` with their power.
    pub fn bucket_powers(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        (0..self.sequence_length).filter_map(|i| self.buckets[i].power_kw.map(|p| (i, p)))
    }

    /// Start of bucket `i`.
    pub fn bucket_start(&self, i: usize) -> Micros {
        self.t0 + i as Micros * BUCKET
    }

    /// The bucket a timestamp falls in.
    pub fn bucket_at(&self, ts: Micros) -> usize {
        crate::window::bucket_of(ts - self.t0)
    }

    /// Raw readings with `from <= ts <= to`.
    pub fn readings_between(&self, from: Micros, to: Micros) -> &'a [Reading] {
        let start = self.readings.partition_point(|r| r.ts < from);
        let end = self.readings.partition_point(|r| r.ts <= to);
        &self.readings[start..end.max(start)]
    }

    /// Power samples taken in buckets `from..=to`.
    pub fn power_samples_in(&self, from: usize, to: usize) -> PowerSamples<'a> {
        let end = if to + 1 >= BUCKETS {
            self.last_ts
        } else {
            self.bucket_start(to + 1) - 1
        };
        PowerSamples::new(
            self.readings_between(self.bucket_start(from), end),
            self.power_location,
        )
    }

    /// The session's typical charging power: the 90th percentile over the
    /// buckets that deliver energy. A bucket's charging power averages only
    /// its samples with power, so a charge starting or ending mid-bucket is
    /// not diluted by the idle part.
    fn plateau(&self) -> Option<f64> {
        let mut values = [0.0; BUCKETS];
        let mut n = 0;
        for bucket in &self.buckets[..self.sequence_length] {
            let Some(power) = bucket.power_kw else { continue };
            let charging = if bucket.active_samples > 0 {
                bucket.active_sum / bucket.active_samples as f64
            } else {
                power
            };
            if charging > DELIVERING_KW {
                values[n] = charging;
                n += 1;
            }
        }
        percentile(&mut values[..n], PLATEAU_PERCENTILE)
    }

    /// The energy register's mean rate (kW) between its last reading at or
    /// before `from` and its first reading at or after `to`; `None` without
    /// two such readings.
    pub fn register_rate(&self, from: Micros, to: Micros) -> Option<f64> {
        let stream = self.register.stream?;
        let is_register = |r: &&Reading| {
            r.measurand == Measurand::EnergyActiveImportRegister && (r.location, r.phase) == stream
        };
        let before = self.readings.partition_point(|r| r.ts <= from);
        let start = self.readings[..before].iter().rev().find(is_register)?;
        let after = self.readings.partition_point(|r| r.ts < to);
        let end = self.readings[after..].iter().find(is_register)?;
        let hours = (end.ts - start.ts) as f64 / MICROS_PER_HOUR;
        (hours > 0.0).then(|| (end.normalized() - start.normalized()) / hours)
    }

    /// Evidence span for an output anomaly.
    pub fn time_range(&self, from: Micros, to: Micros) -> TimeRange {
        TimeRange {
            start_timestamp: Some(micros_to_datetime(from)),
            end_timestamp: Some(micros_to_datetime(to)),
        }
    }
}

/// Linear-interpolated percentile (as numpy's default); sorts `values`.
pub fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let pos = q * (values.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(values[lo] + (values[hi] - values[lo]) * (pos - lo as f64))
}
