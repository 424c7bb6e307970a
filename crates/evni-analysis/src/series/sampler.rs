//! Power at one instant: the readings sharing a timestamp are combined into a
//! single power sample (per-phase values summed, current × voltage as a
//! fallback). Used by the series builder and by detectors that look back at
//! the raw readings of a few buckets, so both see the same samples.

use evni_domain::{Location, Measurand, Micros, Reading};

/// Accumulates the power-related readings taken at one timestamp.
#[derive(Debug, Clone, Copy, Default)]
pub struct Instant {
    power: Sum,
    current: Sum,
    voltage: Sum,
}

/// A total (no phase) wins over per-phase values, which add up.
#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    total: Option<f64>,
    phases: f64,
    phase_count: u8,
}

impl Sum {
    fn add(&mut self, r: &Reading) {
        match r.phase {
            None => self.total = Some(r.normalized()),
            Some(phase) if phase.is_line() => {
                self.phases += r.normalized();
                self.phase_count += 1;
            }
            // Neutral and line-to-line values are not shares of the total.
            Some(_) => {}
        }
    }

    fn value(&self) -> Option<f64> {
        self.total.or((self.phase_count > 0).then_some(self.phases))
    }

    fn mean(&self) -> Option<f64> {
        self.total
            .or((self.phase_count > 0).then(|| self.phases / self.phase_count as f64))
    }
}

impl Instant {
    /// Takes a reading if it speaks about power; returns whether it did.
    pub fn add(&mut self, r: &Reading, location: Location) -> bool {
        if r.location != location {
            return false;
        }
        match r.measurand {
            Measurand::PowerActiveImport => self.power.add(r),
            Measurand::CurrentImport => self.current.add(r),
            Measurand::Voltage => self.voltage.add(r),
            _ => return false,
        }
        true
    }

    /// Active import power in kW: reported, else current × voltage.
    pub fn sample(&self) -> Option<f64> {
        self.power
            .value()
            .or_else(|| Some(self.current.value()? * self.voltage.mean()? / 1000.0))
    }

    /// Whether the power came from Power.Active.Import itself.
    pub fn is_reported(&self) -> bool {
        self.power.value().is_some()
    }
}

/// Power samples `(ts, kW)` over a sorted slice of readings.
pub struct PowerSamples<'a> {
    readings: &'a [Reading],
    location: Location,
    pos: usize,
}

impl<'a> PowerSamples<'a> {
    pub fn new(readings: &'a [Reading], location: Location) -> Self {
        Self {
            readings,
            location,
            pos: 0,
        }
    }
}

impl Iterator for PowerSamples<'_> {
    type Item = (Micros, f64);

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.readings.len() {
            let ts = self.readings[self.pos].ts;
            let mut instant = Instant::default();
            while self.pos < self.readings.len() && self.readings[self.pos].ts == ts {
                instant.add(&self.readings[self.pos], self.location);
                self.pos += 1;
            }
            if let Some(kw) = instant.sample() {
                return Some((ts, kw));
            }
        }
        None
    }
}

/// Mean power (kW) of samples over the time they span, each interval
/// weighted by its length (trapezoids), so that dense or repeated samples
/// weigh no more than sparse ones; with a single timestamp, its value. Also
/// returns the number of samples.
pub fn time_weighted_mean(samples: impl Iterator<Item = (Micros, f64)>) -> Option<(f64, u32)> {
    let (mut area, mut span, mut count) = (0.0, 0.0, 0u32);
    let (mut first, mut prev): (Option<f64>, Option<(Micros, f64)>) = (None, None);
    for (ts, kw) in samples {
        first.get_or_insert(kw);
        if let Some((prev_ts, prev_kw)) = prev {
            let dt = (ts - prev_ts) as f64;
            area += (prev_kw + kw) / 2.0 * dt;
            span += dt;
        }
        prev = Some((ts, kw));
        count += 1;
    }
    let mean = if span > 0.0 { area / span } else { first? };
    Some((mean, count))
}
