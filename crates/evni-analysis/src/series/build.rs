//! The single pass over a window's readings that fills a [`Series`].

use evni_domain::{Location, Measurand, Micros, Phase, Reading, MICROS_PER_MINUTE};

use super::{Bounded, Bucket, Event, FrozenRun, Gap, Instant, Register, Series, Soc, MICROS_PER_HOUR};
use crate::window::{bucket_of, BUCKETS};
use crate::SessionContext;

/// A register step down by more than this (kWh, i.e. 1 Wh) is a decrease.
pub const DECREASE_MIN_KWH: f64 = 0.001;
/// Implied power above which a register step is a jump when no rating is known.
pub const UNRATED_JUMP_KW: f64 = 400.0;
/// A jump is an increase above this multiple of the connector's rating.
pub const RATED_JUMP_FACTOR: f64 = 1.5;
/// SoC falling by this many points between consecutive readings is a drop.
pub const SOC_DROP_POINTS: f64 = 3.0;
/// SoC rising this many points shows energy flowing (METER_STUCK).
pub const SOC_RISE_POINTS: f64 = 3.0;
/// Silences at least this long are kept as gap candidates.
const GAP_CANDIDATE: Micros = 30 * MICROS_PER_MINUTE;
/// Frozen register runs at least this long are kept for METER_STUCK.
const FROZEN_CANDIDATE: Micros = 15 * MICROS_PER_MINUTE;
/// No register counts coarser than whole kWh; a register that repeats one
/// value throughout says nothing finer about its resolution.
pub const MAX_RESOLUTION_KWH: f64 = 1.0;
/// Resolution finer than 1 Wh makes no difference to any rule.
const FINEST_RESOLUTION_KWH: f64 = 0.001;
/// Export below this (kW / kWh) is meter noise, not V2G.
const EXPORT_NOISE: f64 = 0.01;

/// Which readings form one stream: the first reading of a measurand fixes
/// its location and phase so that a second meter never interleaves.
#[derive(Clone, Copy, PartialEq)]
struct StreamKey {
    location: Location,
    phase: Option<Phase>,
}

impl StreamKey {
    fn of(r: &Reading) -> Self {
        Self {
            location: r.location,
            phase: r.phase,
        }
    }

    fn admits(slot: &mut Option<StreamKey>, r: &Reading) -> bool {
        *slot.get_or_insert(StreamKey::of(r)) == StreamKey::of(r)
    }
}

/// The register stream's running state.
#[derive(Default)]
struct RegisterState {
    key: Option<StreamKey>,
    prev: Option<(Micros, f64)>,
    high_water: f64,
    run: Option<FrozenRun>,
    run_value: f64,
    delivered: f64,
}

#[derive(Default)]
struct SocState {
    key: Option<StreamKey>,
    prev: Option<(Micros, f64)>,
}

/// The export register, to tell V2G from a SoC fault.
#[derive(Default)]
struct ExportState {
    key: Option<StreamKey>,
    prev: Option<f64>,
}

/// The power samples' running state.
#[derive(Default)]
struct PowerState {
    location: Option<Location>,
    instant: Instant,
    instant_ts: Micros,
    has_instant: bool,
    prev: Option<(Micros, f64)>,
    integrated: f64,
}

impl<'a> Series<'a> {
    /// Builds the series of a window (see [`crate::window::window`]).
    /// `readings` must be sorted by time and non-empty.
    pub fn build(readings: &'a [Reading], context: &SessionContext) -> Series<'a> {
        let t0 = readings.first().map_or(0, |r| r.ts);
        let last_ts = readings.last().map_or(0, |r| r.ts);
        let jump_threshold_kw = context
            .rated_power_kw
            .filter(|kw| *kw > 0.0)
            .map_or(UNRATED_JUMP_KW, |kw| kw * RATED_JUMP_FACTOR);
        let mut s = Series {
            readings,
            t0,
            last_ts,
            sequence_length: bucket_of(last_ts - t0) + 1,
            buckets: [Bucket::default(); BUCKETS],
            timestamps: 0,
            median_interval: 0,
            longest_interval: 0,
            gaps: Bounded::default(),
            frozen: Bounded::default(),
            register: Register::default(),
            soc: Soc::default(),
            power_samples: 0,
            reported_power_samples: 0,
            power_location: Location::Outlet,
            delivered_kwh: 0.0,
            plateau_kw: None,
            jump_threshold_kw,
        };
        let mut register = RegisterState::default();
        let mut soc = SocState::default();
        let mut export = ExportState::default();
        let mut power = PowerState::default();
        // One allocation per session, for the median interval.
        let mut intervals: Vec<Micros> = Vec::with_capacity(readings.len());
        let mut prev_ts: Option<Micros> = None;

        for r in readings {
            let b = bucket_of(r.ts - t0);
            if prev_ts != Some(r.ts) {
                if let Some(p) = prev_ts {
                    let interval = r.ts - p;
                    intervals.push(interval);
                    s.longest_interval = s.longest_interval.max(interval);
                    if interval >= GAP_CANDIDATE {
                        s.gaps.push(Gap {
                            from_ts: p,
                            to_ts: r.ts,
                        });
                    }
                }
                s.flush_power(&mut power);
                prev_ts = Some(r.ts);
                s.timestamps += 1;
            }
            let bucket = &mut s.buckets[b];
            if bucket.readings == 0 {
                bucket.first_ts = r.ts;
            }
            bucket.readings += 1;
            bucket.last_ts = r.ts;

            match r.measurand {
                Measurand::EnergyActiveImportRegister if StreamKey::admits(&mut register.key, r) => {
                    s.add_register(&mut register, &soc, r, b);
                }
                Measurand::SoC if StreamKey::admits(&mut soc.key, r) => {
                    s.add_soc(&mut soc, &mut register, r, b);
                }
                Measurand::PowerActiveImport | Measurand::CurrentImport | Measurand::Voltage => {
                    let location = *power.location.get_or_insert(r.location);
                    if power.instant.add(r, location) {
                        power.instant_ts = r.ts;
                        power.has_instant = true;
                    }
                }
                Measurand::PowerActiveExport if r.normalized() > EXPORT_NOISE => {
                    s.buckets[b].exporting = true;
                }
                Measurand::EnergyActiveExportRegister if StreamKey::admits(&mut export.key, r) => {
                    let v = r.normalized();
                    if export.prev.is_some_and(|p| v - p > EXPORT_NOISE) {
                        s.buckets[b].exporting = true;
                    }
                    export.prev = Some(v);
                }
                _ => {}
            }
        }
        s.flush_power(&mut power);
        s.close_frozen_run(&mut register);
        s.power_location = power.location.unwrap_or(Location::Outlet);
        s.register.stream = register.key.map(|k| (k.location, k.phase));
        s.median_interval = median(&mut intervals);
        s.finish(&register, &power);
        s
    }

    fn add_register(&mut self, st: &mut RegisterState, soc: &SocState, r: &Reading, b: usize) {
        let value = r.normalized();
        if self.register.readings == 0 {
            self.register.resolution_kwh = MAX_RESOLUTION_KWH;
        }
        self.register.readings += 1;
        self.register.resolution_kwh = resolution(self.register.resolution_kwh, r);
        if let Some((prev_ts, prev)) = st.prev {
            let hours = (r.ts - prev_ts) as f64 / MICROS_PER_HOUR;
            let from_bucket = bucket_of(prev_ts - self.t0);
            let event = |magnitude| Event {
                magnitude,
                from_ts: prev_ts,
                to_ts: r.ts,
                from_bucket,
                count: 1,
            };
            let drop = prev - value;
            self.register.largest_drop_kwh = self.register.largest_drop_kwh.max(drop);
            // A hair of tolerance: Wh values divided into kWh are not exact.
            if drop > DECREASE_MIN_KWH + 1e-9 {
                event(drop).merge_into(&mut self.buckets[b].register_drop);
            }
            if hours > 0.0 && drop <= DECREASE_MIN_KWH + 1e-9 {
                let mut increase = (value - prev).max(0.0);
                // Coming back from a glitch down is no jump: only the part
                // above the previous high-water mark counts then.
                if increase / hours > self.jump_threshold_kw && value >= st.high_water {
                    increase = value - st.high_water;
                }
                let rate = increase / hours;
                self.register.peak_rate_kw = self.register.peak_rate_kw.max(rate);
                if rate > self.jump_threshold_kw {
                    event(rate).merge_into(&mut self.buckets[b].register_jump);
                } else {
                    let bucket = &mut self.buckets[b];
                    bucket.delivered_kwh += increase;
                    bucket.register_hours += hours;
                    st.delivered += increase;
                }
            }
            if value == st.run_value {
                if let Some(run) = st.run.as_mut() {
                    if run.readings == 1 {
                        run.first_repeat_ts = r.ts;
                    }
                    run.last_ts = r.ts;
                    run.readings += 1;
                }
            } else {
                self.close_frozen_run(st);
            }
        }
        if st.run.is_none() {
            st.run = Some(FrozenRun {
                since_ts: r.ts,
                first_repeat_ts: r.ts,
                last_ts: r.ts,
                readings: 1,
                // The SoC at the run's first reading; when it comes after
                // the register at this timestamp, `add_soc` fills it in.
                soc_before: soc.prev.filter(|(ts, _)| *ts == r.ts).map(|(_, v)| v),
                soc_rise: 0.0,
            });
            st.run_value = value;
        }
        st.high_water = if st.prev.is_none() {
            value
        } else {
            st.high_water.max(value)
        };
        st.prev = Some((r.ts, value));
    }

    fn close_frozen_run(&mut self, st: &mut RegisterState) {
        if let Some(mut run) = st.run.take() {
            if let (Some(before), Some(now)) = (run.soc_before, self.soc.last) {
                run.soc_rise = now - before;
            }
            if run.last_ts - run.since_ts >= FROZEN_CANDIDATE {
                self.frozen.push(run);
            }
        }
    }

    fn add_soc(&mut self, st: &mut SocState, register: &mut RegisterState, r: &Reading, b: usize) {
        let value = r.normalized();
        if let Some(run) = register.run.as_mut() {
            run.soc_before.get_or_insert(value);
        }
        self.soc.readings += 1;
        self.soc.first.get_or_insert(value);
        self.soc.last = Some(value);
        self.buckets[b].soc = Some(value);
        if let Some((prev_ts, prev)) = st.prev {
            let from_bucket = bucket_of(prev_ts - self.t0);
            let drop = prev - value;
            // A small tolerance so that exactly 3 points (50.0 -> 47.0) counts.
            // Drops during export are discarded in `finish`: export readings
            // at the same timestamp may come after this one.
            if drop >= SOC_DROP_POINTS - 1e-9 {
                Event {
                    magnitude: drop,
                    from_ts: prev_ts,
                    to_ts: r.ts,
                    from_bucket,
                    count: 1,
                }
                .merge_into(&mut self.buckets[b].soc_drop);
            } else {
                self.soc.largest_drop = self.soc.largest_drop.max(drop);
            }
        }
        st.prev = Some((r.ts, value));
    }

    /// Ends the current timestamp: its power readings become one sample.
    fn flush_power(&mut self, st: &mut PowerState) {
        if !std::mem::take(&mut st.has_instant) {
            return;
        }
        let instant = std::mem::take(&mut st.instant);
        let Some(kw) = instant.sample() else { return };
        let ts = st.instant_ts;
        self.power_samples += 1;
        self.reported_power_samples += u32::from(instant.is_reported());
        let bucket = &mut self.buckets[bucket_of(ts - self.t0)];
        bucket.power_sum += kw;
        if kw > super::DELIVERING_KW {
            bucket.active_sum += kw;
            bucket.active_samples += 1;
        }
        if bucket.power_samples == 0 || kw > bucket.peak_kw {
            bucket.peak_kw = kw;
            bucket.peak_ts = ts;
        }
        bucket.power_samples += 1;
        if let Some((prev_ts, prev_kw)) = st.prev {
            st.integrated += prev_kw.max(0.0) * (ts - prev_ts) as f64 / MICROS_PER_HOUR;
        }
        st.prev = Some((ts, kw));
    }

    /// Folds the accumulators into bucket power, delivered energy, plateau.
    fn finish(&mut self, register: &RegisterState, power: &PowerState) {
        for b in 0..self.sequence_length {
            if let Some(drop) = self.buckets[b].soc_drop {
                if self.buckets[drop.from_bucket..=b].iter().any(|x| x.exporting) {
                    self.buckets[b].soc_drop = None;
                } else {
                    self.soc.largest_drop = self.soc.largest_drop.max(drop.magnitude);
                }
            }
        }
        for bucket in &mut self.buckets[..self.sequence_length] {
            bucket.power_kw = if bucket.power_samples > 0 {
                Some(bucket.power_sum / bucket.power_samples as f64)
            } else if bucket.register_hours > 0.0 {
                Some(bucket.delivered_kwh / bucket.register_hours)
            } else {
                None
            };
        }
        self.void_stuck_register_power();
        // A stuck register under-reports: power that was measured counts too.
        self.delivered_kwh = register.delivered.max(power.integrated);
        self.plateau_kw = self.plateau();
    }
}

impl Series<'_> {
    /// Where the register stood still while the SoC rose, its increase says
    /// nothing about power: such buckets without power samples are unknown.
    fn void_stuck_register_power(&mut self) {
        for run in self.frozen.as_slice() {
            if run.soc_rise < SOC_RISE_POINTS {
                continue;
            }
            let (from, to) = (
                bucket_of(run.first_repeat_ts - self.t0),
                bucket_of(run.last_ts - self.t0),
            );
            for bucket in &mut self.buckets[from..=to] {
                if bucket.power_samples == 0 {
                    bucket.power_kw = None;
                }
            }
        }
    }
}

/// The register's resolution (kWh) once `r` is seen, given the resolution
/// `so_far`: the coarsest power of ten that every value is a multiple of,
/// checked in the reading's own unit (a kWh register with one decimal
/// counts 0.1 kWh, a Wh register 1 Wh). Usually one division per reading.
fn resolution(so_far: f64, r: &Reading) -> f64 {
    let kwh_per_unit = Reading { value: 1.0, ..*r }.normalized();
    let is_multiple = |step_kwh: f64| {
        let q = r.value / (step_kwh / kwh_per_unit);
        (q - q.round()).abs() < 1e-6
    };
    let mut step = so_far;
    while step > FINEST_RESOLUTION_KWH * 1.5 && !is_multiple(step) {
        step /= 10.0;
    }
    step
}

/// Median of the intervals (0 when there are none).
fn median(values: &mut [Micros]) -> Micros {
    let n = values.len();
    if n == 0 {
        return 0;
    }
    let (_, upper, _) = values.select_nth_unstable(n / 2);
    let upper = *upper;
    if n % 2 == 1 {
        return upper;
    }
    let lower = values[..n / 2].iter().copied().max().unwrap_or(upper);
    (lower + upper) / 2
}
