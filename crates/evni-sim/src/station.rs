//! The station pool. A station's hardware and firmware fix what its sessions
//! look like: rated power, which measurands and units the meter reports, and
//! the sampling interval.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::config::SimConfig;
use crate::session::rng_for;

/// Streams at or above this value seed stations; below it, sessions.
const STATION_STREAM: u64 = 1 << 62;

const AREAS: [&str; 8] = [
    "NL-AMS", "NL-UTR", "DE-BER", "DE-MUC", "BE-BRU", "FR-PAR", "PL-WAW", "SE-STO",
];
const OPERATORS: [&str; 5] = ["VoltNet", "ChargeHub", "CityPlug", "FastLane", "GridPoint"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CurrentType {
    AC,
    DC,
}

/// Which meter values the station's firmware sends, and how.
#[derive(Debug, Clone)]
pub(crate) struct MeterSetup {
    pub energy_in_wh: bool,
    /// Decimals of a kWh register (2 or 3).
    pub kwh_decimals: i32,
    /// `Some(true)`: Power.Active.Import in W, `Some(false)`: in kW.
    pub power_in_w: Option<bool>,
    /// Current.Import and Voltage per phase (AC only).
    pub per_phase: bool,
    /// Voltage phases written as `L1-N` instead of `L1`.
    pub voltage_line_to_neutral: bool,
    pub temperature: bool,
    /// The firmware relies on OCPP defaults: energy readings without measurand and unit.
    pub omit_defaults: bool,
    pub interval_s: i64,
    pub load_management: bool,
    /// Timestamps in local time with this offset (minutes) instead of `Z`.
    pub utc_offset_min: Option<i32>,
}

/// One charging station of the pool.
#[derive(Debug, Clone, Serialize)]
pub struct StationSpec {
    pub id: String,
    pub current_type: CurrentType,
    /// Rated power of each connector in kW.
    pub rated_power_kw: f64,
    /// AC: 1 or 3.
    pub phases: u8,
    pub connectors: u8,
    pub operator: String,
    /// EVSE id prefix (`NL*VOL*E0042`), when the operator uses them.
    pub evse_prefix: Option<String>,
    #[serde(skip)]
    pub(crate) meter: MeterSetup,
    /// Lifetime register of each connector at the simulation start (kWh), and
    /// its average growth per day.
    #[serde(skip)]
    pub(crate) register_base_kwh: Vec<f64>,
    #[serde(skip)]
    pub(crate) register_kwh_per_day: f64,
    /// Relative popularity: sessions pick stations with these weights.
    #[serde(skip)]
    pub(crate) weight: f64,
}

impl StationSpec {
    pub(crate) fn reports_power(&self) -> bool {
        self.meter.power_in_w.is_some()
    }
}

/// The station pool of a configuration (independent of `config.sessions`).
pub(crate) fn pool(config: &SimConfig) -> Vec<StationSpec> {
    (0..config.stations.max(1)).map(|i| station(config, i)).collect()
}

fn station(config: &SimConfig, index: usize) -> StationSpec {
    let mut rng = rng_for(config.seed, STATION_STREAM + index as u64);
    let (current_type, rated_power_kw, phases) = match rng.random_range(0..100) {
        0..12 => (CurrentType::AC, *pick(&mut rng, &[3.7, 7.4]), 1),
        12..40 => (CurrentType::AC, 11.0, 3),
        40..62 => (CurrentType::AC, 22.0, 3),
        62..78 => (CurrentType::DC, 50.0, 0),
        78..92 => (CurrentType::DC, *pick(&mut rng, &[120.0, 150.0, 180.0]), 0),
        _ => (CurrentType::DC, *pick(&mut rng, &[300.0, 350.0]), 0),
    };
    let dc = current_type == CurrentType::DC;
    let connectors = if dc {
        rng.random_range(1..=4)
    } else {
        rng.random_range(1..=2)
    };
    let area = pick(&mut rng, &AREAS);
    let operator = pick(&mut rng, &OPERATORS).to_string();
    let id = format!("CP-{area}-{:04}", index + 1);
    let evse_prefix = rng.random_bool(0.4).then(|| {
        let country = &area[..2];
        let party = operator[..3].to_ascii_uppercase();
        format!("{country}*{party}*E{:04}", index + 1)
    });
    let meter = MeterSetup {
        energy_in_wh: rng.random_bool(0.5),
        kwh_decimals: if rng.random_bool(0.8) { 3 } else { 2 },
        power_in_w: rng.random_bool(0.8).then(|| rng.random_bool(0.5)),
        per_phase: !dc && rng.random_bool(0.35),
        voltage_line_to_neutral: rng.random_bool(0.5),
        temperature: dc && rng.random_bool(0.3),
        omit_defaults: rng.random_bool(0.06),
        interval_s: *pick(&mut rng, &[30, 60, 60, 120, 300, 300, 300, 600, 900, 900]),
        load_management: rng.random_bool(if dc { 0.25 } else { 0.4 }),
        utc_offset_min: rng.random_bool(0.1).then(|| *pick(&mut rng, &[60, 120])),
    };
    let register_base_kwh = (0..connectors)
        .map(|_| rng.random_range(50.0..90_000.0))
        .collect();
    let register_kwh_per_day = if dc {
        rng.random_range(40.0..400.0)
    } else {
        rng.random_range(5.0..60.0)
    };
    StationSpec {
        id,
        current_type,
        rated_power_kw,
        phases,
        connectors,
        operator,
        evse_prefix,
        meter,
        register_base_kwh,
        register_kwh_per_day,
        // A skewed popularity so that busy stations collect many sessions.
        weight: 1.0 / (1.0 + index as f64 % 17.0).powf(0.8),
    }
}

pub(crate) fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Draws a station by popularity.
pub(crate) fn draw<'a>(rng: &mut ChaCha8Rng, stations: &'a [StationSpec]) -> &'a StationSpec {
    let total: f64 = stations.iter().map(|s| s.weight).sum();
    let mut x = rng.random::<f64>() * total;
    for s in stations {
        if x < s.weight {
            return s;
        }
        x -= s.weight;
    }
    &stations[stations.len() - 1]
}
