//! The output line: a POST /v1/sessions body, its labels and its kind; and
//! how a station's firmware turns sampled rows into OCPP meter values.

use chrono::{DateTime, FixedOffset, SecondsFormat};
use evni_domain::{AnomalyCategory, Location, Measurand, Phase, UnitOfMeasure};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::config::SessionKind;
use crate::sampling::Row;
use crate::station::{CurrentType, StationSpec};

/// One line of the simulator's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulatedSession {
    pub request: SessionRequest,
    pub labels: Vec<Label>,
    pub kind: SessionKind,
}

/// The body of POST /v1/sessions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRequest {
    pub session_id: String,
    pub charging_station_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evse_id: Option<String>,
    pub meter_values: Vec<MeterValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// An OCPP meter value; absent fields take their OCPP defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeterValue {
    pub timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measurand: Option<Measurand>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<UnitOfMeasure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    pub value: f64,
}

/// An injected anomaly: its category and the inclusive bucket range,
/// relative to t0 of the analysed window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Label {
    pub category: AnomalyCategory,
    pub start_unit: u32,
    pub end_unit: u32,
}

/// Per-session choices on top of the station's meter setup.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reporting {
    pub power: bool,
    pub soc: bool,
    pub soc_decimals: i32,
}

/// Writes rows as the station's firmware would.
pub(crate) fn meter_values(
    rng: &mut ChaCha8Rng,
    station: &StationSpec,
    reporting: Reporting,
    rows: &[Row],
) -> Vec<MeterValue> {
    let meter = &station.meter;
    let offset = FixedOffset::east_opt(meter.utc_offset_min.unwrap_or(0) * 60)
        .unwrap_or(FixedOffset::east_opt(0).unwrap());
    let mut out = Vec::with_capacity(rows.len() * 3);
    for row in rows {
        let timestamp = format_ts(row.ts, offset);
        let mv = |measurand, unit, phase, location, value| MeterValue {
            timestamp: timestamp.clone(),
            measurand: Some(measurand),
            unit: Some(unit),
            phase,
            location,
            value,
        };
        let energy = if meter.energy_in_wh {
            mv(
                Measurand::EnergyActiveImportRegister,
                UnitOfMeasure::Wh,
                None,
                None,
                round(row.energy_kwh * 1000.0, 0),
            )
        } else {
            let kwh = round(row.energy_kwh, meter.kwh_decimals);
            mv(
                Measurand::EnergyActiveImportRegister,
                UnitOfMeasure::KWh,
                None,
                None,
                kwh,
            )
        };
        if meter.omit_defaults && meter.energy_in_wh {
            out.push(MeterValue {
                measurand: None,
                unit: None,
                ..energy
            });
        } else {
            out.push(energy);
        }
        if reporting.power {
            out.push(match meter.power_in_w {
                Some(false) => mv(
                    Measurand::PowerActiveImport,
                    UnitOfMeasure::KW,
                    None,
                    None,
                    round(row.power_kw, 3),
                ),
                _ => mv(
                    Measurand::PowerActiveImport,
                    UnitOfMeasure::W,
                    None,
                    None,
                    round(row.power_kw * 1000.0, 0),
                ),
            });
        }
        if reporting.soc {
            let soc = round(row.soc, reporting.soc_decimals);
            out.push(mv(
                Measurand::SoC,
                UnitOfMeasure::Percent,
                None,
                Some(Location::Ev),
                soc,
            ));
        }
        if meter.per_phase && station.current_type == CurrentType::AC {
            let phases = [
                (Phase::L1, Phase::L1N),
                (Phase::L2, Phase::L2N),
                (Phase::L3, Phase::L3N),
            ];
            let n = station.phases.max(1) as usize;
            for (line, line_to_neutral) in phases.into_iter().take(n) {
                let volts = 230.0 + rng.random_range(-4.0..4.0);
                let imbalance = 1.0 + rng.random_range(-0.02..0.02);
                let amps = row.power_kw * 1000.0 / (volts * n as f64) * imbalance;
                out.push(mv(
                    Measurand::CurrentImport,
                    UnitOfMeasure::A,
                    Some(line),
                    None,
                    round(amps, 1),
                ));
                let voltage_phase = if meter.voltage_line_to_neutral {
                    line_to_neutral
                } else {
                    line
                };
                out.push(mv(
                    Measurand::Voltage,
                    UnitOfMeasure::V,
                    Some(voltage_phase),
                    None,
                    round(volts, 1),
                ));
            }
        }
        if meter.temperature {
            // Cable and power electronics warm up with the delivered power.
            let celsius = 24.0 + 18.0 * row.power_kw / station.rated_power_kw + rng.random_range(-0.5..0.5);
            out.push(mv(
                Measurand::Temperature,
                UnitOfMeasure::Celsius,
                None,
                Some(Location::Body),
                round(celsius, 1),
            ));
        }
    }
    out
}

fn format_ts(ts: i64, offset: FixedOffset) -> String {
    let utc = DateTime::from_timestamp(ts, 0).unwrap_or_default();
    utc.with_timezone(&offset)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Rounds to `decimals` places; the result prints as that decimal.
pub(crate) fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}
