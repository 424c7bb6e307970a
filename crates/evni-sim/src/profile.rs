//! Charging physics: what the vehicle accepts at a given state of charge, what
//! the charger allows, and the resulting power, energy and SoC over time.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::station::{CurrentType, StationSpec};

/// Resolution of the simulated trace. Readings interpolate within a step.
pub(crate) const STEP_S: i64 = 10;

/// The battery side of a session.
#[derive(Debug, Clone)]
pub(crate) struct Vehicle {
    pub capacity_kwh: f64,
    /// The most the vehicle accepts on this charger type.
    pub max_kw: f64,
    /// Above this SoC the vehicle tapers its power...
    pub knee_soc: f64,
    /// ...linearly down to this fraction of `max_kw` at 100 %.
    pub end_fraction: f64,
    pub efficiency: f64,
}

impl Vehicle {
    pub fn draw(rng: &mut ChaCha8Rng, station: &StationSpec) -> Vehicle {
        let capacity_kwh = rng.random_range(38.0..105.0);
        match station.current_type {
            CurrentType::DC => Vehicle {
                capacity_kwh,
                // Peak DC power scales roughly with battery size.
                max_kw: (capacity_kwh * rng.random_range(1.2..2.6)).min(270.0),
                knee_soc: rng.random_range(45.0..68.0),
                end_fraction: rng.random_range(0.1..0.22),
                efficiency: 0.95,
            },
            CurrentType::AC => {
                let onboard_kw = if station.phases == 1 {
                    *crate::station::pick(rng, &[3.7, 7.4, 7.4])
                } else {
                    *crate::station::pick(rng, &[7.4, 11.0, 11.0, 11.0, 22.0])
                };
                Vehicle {
                    capacity_kwh,
                    max_kw: onboard_kw,
                    knee_soc: rng.random_range(92.0..97.0),
                    end_fraction: rng.random_range(0.3..0.6),
                    efficiency: 0.9,
                }
            }
        }
    }

    pub fn acceptance_kw(&self, soc: f64) -> f64 {
        if soc <= self.knee_soc {
            return self.max_kw;
        }
        let x = ((soc - self.knee_soc) / (100.0 - self.knee_soc)).clamp(0.0, 1.0);
        self.max_kw * (1.0 - x * (1.0 - self.end_fraction))
    }
}

/// A span of time `[start_s, end_s)` relative to plug-in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub start_s: i64,
    pub end_s: i64,
}

impl Span {
    pub fn contains(&self, t: i64) -> bool {
        self.start_s <= t && t < self.end_s
    }
}

/// Everything that shapes delivery over a session.
#[derive(Debug, Clone)]
pub(crate) struct ChargePlan {
    pub vehicle: Vehicle,
    /// What the charger can deliver (a little below its rating).
    pub charger_kw: f64,
    pub soc_start: f64,
    pub soc_target: f64,
    /// Zero power at the beginning (scheduled or delayed start).
    pub delay_s: i64,
    /// Load management: power limited to a fraction of `charger_kw`.
    pub limits: Vec<(Span, f64)>,
    /// ENERGY_PIT: delivery drops to `pause_kw` during the span.
    pub pause: Option<(Span, f64)>,
    /// CHARGING_EXPECTED: delivery stops for good from this time.
    pub stop_s: Option<i64>,
    /// ZERO_SESSION: the vehicle never draws power.
    pub no_delivery: bool,
    /// A novel fault that reshapes delivered power (see [`crate::novel`]).
    pub shape: Option<crate::novel::PowerShape>,
    /// Relative power noise of the delivered power.
    pub noise: f64,
}

/// One step of the trace: state at the start of the step and the power held
/// during it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Point {
    pub energy_kwh: f64,
    pub power_kw: f64,
    pub soc: f64,
}

/// The simulated session from plug-in, one point per [`STEP_S`].
#[derive(Debug, Clone)]
pub(crate) struct Trace {
    pub points: Vec<Point>,
    /// When the SoC reached the target, if it did.
    pub complete_s: Option<i64>,
}

impl Trace {
    /// The state at `t` seconds after plug-in: energy interpolated within the
    /// step, so that register and power agree.
    pub fn at(&self, t: i64) -> Point {
        let last = self.points.len() - 1;
        let k = ((t / STEP_S) as usize).min(last);
        let p = self.points[k];
        let frac = ((t - k as i64 * STEP_S) as f64 / STEP_S as f64).clamp(0.0, 1.0);
        let next = self.points[(k + 1).min(last)];
        Point {
            energy_kwh: p.energy_kwh + (next.energy_kwh - p.energy_kwh) * frac,
            power_kw: p.power_kw,
            soc: p.soc + (next.soc - p.soc) * frac,
        }
    }

    /// The delivered power's maximum: the session's plateau.
    pub fn peak_kw(&self) -> f64 {
        self.points.iter().map(|p| p.power_kw).fold(0.0, f64::max)
    }
}

impl ChargePlan {
    fn power_at(&self, t: i64, soc: f64) -> f64 {
        let stopped = self.no_delivery || t < self.delay_s || self.stop_s.is_some_and(|s| t >= s);
        if stopped || soc >= self.soc_target {
            return 0.0;
        }
        if let Some((span, kw)) = self.pause {
            if span.contains(t) {
                return kw;
            }
        }
        let limit = self
            .limits
            .iter()
            .filter(|(span, _)| span.contains(t))
            .map(|(_, f)| *f)
            .fold(1.0, f64::min);
        let kw = (self.charger_kw * limit).min(self.vehicle.acceptance_kw(soc));
        self.shape.map_or(kw, |shape| kw * shape.factor(t))
    }

    /// Simulates `duration_s` seconds from plug-in.
    pub fn simulate(&self, rng: &mut ChaCha8Rng, duration_s: i64) -> Trace {
        let steps = (duration_s / STEP_S + 2) as usize;
        let mut points = Vec::with_capacity(steps);
        let (mut energy, mut soc) = (0.0, self.soc_start);
        let mut complete_s = None;
        for k in 0..steps {
            let t = k as i64 * STEP_S;
            let nominal = self.power_at(t, soc);
            let power = if nominal > 0.0 {
                (nominal * (1.0 + self.noise * rng.random_range(-1.0..1.0))).min(self.charger_kw)
            } else {
                0.0
            };
            if complete_s.is_none() && soc >= self.soc_target {
                complete_s = Some(t);
            }
            points.push(Point {
                energy_kwh: energy,
                power_kw: power,
                soc,
            });
            let kwh = power * STEP_S as f64 / 3600.0;
            energy += kwh;
            soc = (soc + kwh * self.vehicle.efficiency / self.vehicle.capacity_kwh * 100.0).min(100.0);
        }
        Trace { points, complete_s }
    }
}
