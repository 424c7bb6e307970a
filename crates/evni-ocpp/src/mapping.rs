//! One mapping for both doors: OCPP-J frames into session and station
//! operations. Meter values go through the REST API's own validation
//! ([`MeterValueIn::validate`]), so both paths read a number the same way.
//!
//! A [`Mapper`] keeps what one charging station's later frames depend on:
//! 1.6 StartTransaction CALLs waiting for the CALLRESULT that carries the
//! transactionId, and the transaction running on each connector (for
//! MeterValues that name none).

use std::borrow::Cow;
use std::collections::HashMap;

use evni_domain::meter_value::parse_timestamp;
use evni_domain::{
    FieldError, Location, Measurand, MeterValueIn, Micros, Reading, ReadingContext, UnitOfMeasure,
    ValidationErrors,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::frame::{Frame, Version};
use crate::messages::{v16, v2};

/// A StartTransaction CALL is forgotten when no answer came within this time.
const PENDING_TTL: Micros = 10 * 60 * evni_domain::MICROS_PER_SECOND;
/// Unanswered StartTransaction CALLs kept per station.
const MAX_PENDING: usize = 64;

/// What a frame asks evni to record.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Session(SessionOp),
    Station(StationOp),
    /// Accepted and counted, not stored; names the action (or why).
    Ignored(String),
}

/// Readings and life-cycle of one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionOp {
    pub transaction_id: String,
    pub event: SessionEvent,
    pub connector_id: Option<String>,
    pub evse_id: Option<String>,
    pub readings: Vec<Reading>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    Started { at: Micros },
    Updated,
    Ended { at: Micros, reason: Option<String> },
}

/// Station and connector metadata and status.
#[derive(Debug, Clone, PartialEq)]
pub enum StationOp {
    Boot(serde_json::Map<String, Value>),
    Status {
        connector: String,
        status: String,
        error_code: Option<String>,
        timestamp: Option<String>,
    },
}

#[derive(Debug, Clone)]
struct PendingStart {
    connector: String,
    meter_start: Reading,
    asked_at: Micros,
}

/// Per-station state between frames; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Mapper {
    pending: HashMap<String, PendingStart>,
    /// Connector (1.6) or EVSE (2.x) id -> the transaction running there.
    running: HashMap<String, String>,
}

impl Mapper {
    /// Maps one frame (found at `path`, e.g. `frames[3]`); a malformed frame
    /// changes nothing and reports every problem found with its path.
    pub fn map(
        &mut self,
        version: Version,
        path: &str,
        frame: Value,
        now: Micros,
    ) -> Result<Vec<Op>, ValidationErrors> {
        self.pending.retain(|_, p| now - p.asked_at < PENDING_TTL);
        let frame = Frame::parse(path, frame)?;
        match version {
            Version::V16 => self.map_v16(path, frame, now),
            Version::V201 | Version::V21 => self.map_v2(path, frame, now),
        }
    }

    fn map_v16(&mut self, path: &str, frame: Frame, now: Micros) -> Result<Vec<Op>, ValidationErrors> {
        let payload_path = format!("{path}[3]");
        match frame {
            Frame::Call { id, action, payload } => match action.as_str() {
                "StartTransaction" => {
                    let start: v16::StartTransactionRequest = typed(&payload_path, payload)?;
                    let ts = parse_timestamp(&start.timestamp, now)
                        .map_err(|p| FieldError::new(format!("{payload_path}.timestamp"), p))?;
                    if self.pending.len() >= MAX_PENDING {
                        // The oldest unanswered CALL is the least likely to be answered.
                        if let Some(oldest) = self
                            .pending
                            .iter()
                            .min_by_key(|(_, p)| p.asked_at)
                            .map(|(k, _)| k.clone())
                        {
                            self.pending.remove(&oldest);
                        }
                    }
                    self.pending.insert(
                        id,
                        PendingStart {
                            connector: start.connector_id.to_string(),
                            meter_start: register(ts, start.meter_start, ReadingContext::TransactionBegin),
                            asked_at: now,
                        },
                    );
                    Ok(Vec::new())
                }
                "MeterValues" => {
                    let values: v16::MeterValuesRequest = typed(&payload_path, payload)?;
                    let connector = values.connector_id.to_string();
                    let readings =
                        readings_v16(&format!("{payload_path}.meterValue"), &values.meter_value, now)?;
                    let tx = match values.transaction_id {
                        Some(tx) => Some(tx.to_string()),
                        None => self.running.get(&connector).cloned(),
                    };
                    Ok(vec![match tx {
                        Some(transaction_id) => Op::Session(SessionOp {
                            transaction_id,
                            event: SessionEvent::Updated,
                            connector_id: Some(connector),
                            evse_id: None,
                            readings,
                        }),
                        None => Op::Ignored("MeterValues outside a transaction".into()),
                    }])
                }
                "StopTransaction" => {
                    let stop: v16::StopTransactionRequest = typed(&payload_path, payload)?;
                    let ts = parse_timestamp(&stop.timestamp, now)
                        .map_err(|p| FieldError::new(format!("{payload_path}.timestamp"), p))?;
                    let mut readings = readings_v16(
                        &format!("{payload_path}.transactionData"),
                        &stop.transaction_data,
                        now,
                    )?;
                    readings.push(register(ts, stop.meter_stop, ReadingContext::TransactionEnd));
                    let transaction_id = stop.transaction_id.to_string();
                    self.running.retain(|_, tx| *tx != transaction_id);
                    Ok(vec![Op::Session(SessionOp {
                        transaction_id,
                        event: SessionEvent::Ended {
                            at: ts,
                            reason: stop.reason,
                        },
                        connector_id: None,
                        evse_id: None,
                        readings,
                    })])
                }
                "BootNotification" => {
                    let boot: v16::BootNotificationRequest = typed(&payload_path, payload)?;
                    let mut info = serde_json::Map::new();
                    info.insert("vendor".into(), boot.charge_point_vendor.into());
                    info.insert("model".into(), boot.charge_point_model.into());
                    let optional = [
                        (
                            "serial_number",
                            boot.charge_point_serial_number.or(boot.charge_box_serial_number),
                        ),
                        ("firmware_version", boot.firmware_version),
                        ("meter_type", boot.meter_type),
                        ("meter_serial_number", boot.meter_serial_number),
                    ];
                    for (key, value) in optional {
                        if let Some(value) = value {
                            info.insert(key.into(), value.into());
                        }
                    }
                    Ok(vec![Op::Station(StationOp::Boot(info))])
                }
                "StatusNotification" => {
                    let status: v16::StatusNotificationRequest = typed(&payload_path, payload)?;
                    Ok(vec![Op::Station(StationOp::Status {
                        connector: status.connector_id.to_string(),
                        status: status.status,
                        error_code: Some(status.error_code),
                        timestamp: status.timestamp,
                    })])
                }
                _ => Ok(vec![Op::Ignored(action)]),
            },
            Frame::Result { id, payload } => {
                let Some(pending) = self.pending.get(&id) else {
                    return Ok(vec![Op::Ignored("CALLRESULT".into())]);
                };
                let answer: v16::StartTransactionResponse = typed(&format!("{path}[2]"), payload)?;
                let pending = pending.clone();
                self.pending.remove(&id);
                if answer.id_tag_info.status != "Accepted" {
                    return Ok(vec![Op::Ignored(format!(
                        "StartTransaction refused ({})",
                        answer.id_tag_info.status
                    ))]);
                }
                let transaction_id = answer.transaction_id.to_string();
                self.running
                    .insert(pending.connector.clone(), transaction_id.clone());
                Ok(vec![Op::Session(SessionOp {
                    transaction_id,
                    event: SessionEvent::Started {
                        at: pending.meter_start.ts,
                    },
                    connector_id: Some(pending.connector),
                    evse_id: None,
                    readings: vec![pending.meter_start],
                })])
            }
            Frame::Error { id } => {
                self.pending.remove(&id);
                Ok(vec![Op::Ignored("CALLERROR".into())])
            }
        }
    }

    fn map_v2(&mut self, path: &str, frame: Frame, now: Micros) -> Result<Vec<Op>, ValidationErrors> {
        let payload_path = format!("{path}[3]");
        let (action, payload) = match frame {
            Frame::Call { action, payload, .. } => (action, payload),
            Frame::Result { .. } => return Ok(vec![Op::Ignored("CALLRESULT".into())]),
            Frame::Error { .. } => return Ok(vec![Op::Ignored("CALLERROR".into())]),
        };
        match action.as_str() {
            "TransactionEvent" => {
                let event: v2::TransactionEventRequest = typed(&payload_path, payload)?;
                let ts = parse_timestamp(&event.timestamp, now)
                    .map_err(|p| FieldError::new(format!("{payload_path}.timestamp"), p))?;
                let readings = readings_v2(&format!("{payload_path}.meterValue"), &event.meter_value, now)?;
                let transaction_id = event.transaction_info.transaction_id;
                let evse_id = event.evse.as_ref().map(|e| e.id.to_string());
                let connector_id = event
                    .evse
                    .as_ref()
                    .map(|e| e.connector_id.unwrap_or(e.id).to_string());
                let event = match event.event_type {
                    v2::EventType::Started => SessionEvent::Started { at: ts },
                    v2::EventType::Updated => SessionEvent::Updated,
                    v2::EventType::Ended => SessionEvent::Ended {
                        at: ts,
                        reason: event.transaction_info.stopped_reason,
                    },
                };
                if let SessionEvent::Ended { .. } = event {
                    self.running.retain(|_, tx| *tx != transaction_id);
                } else if let Some(evse) = &evse_id {
                    self.running.insert(evse.clone(), transaction_id.clone());
                }
                Ok(vec![Op::Session(SessionOp {
                    transaction_id,
                    event,
                    connector_id,
                    evse_id,
                    readings,
                })])
            }
            "MeterValues" => {
                let values: v2::MeterValuesRequest = typed(&payload_path, payload)?;
                let readings = readings_v2(&format!("{payload_path}.meterValue"), &values.meter_value, now)?;
                let evse = values.evse_id.to_string();
                Ok(vec![match self.running.get(&evse) {
                    Some(tx) => Op::Session(SessionOp {
                        transaction_id: tx.clone(),
                        event: SessionEvent::Updated,
                        connector_id: None,
                        evse_id: Some(evse),
                        readings,
                    }),
                    None => Op::Ignored("MeterValues outside a transaction".into()),
                }])
            }
            "BootNotification" => {
                let boot: v2::BootNotificationRequest = typed(&payload_path, payload)?;
                let station = boot.charging_station;
                let mut info = serde_json::Map::new();
                info.insert("vendor".into(), station.vendor_name.into());
                info.insert("model".into(), station.model.into());
                info.insert("reason".into(), boot.reason.into());
                for (key, value) in [
                    ("serial_number", station.serial_number),
                    ("firmware_version", station.firmware_version),
                ] {
                    if let Some(value) = value {
                        info.insert(key.into(), value.into());
                    }
                }
                Ok(vec![Op::Station(StationOp::Boot(info))])
            }
            "StatusNotification" => {
                let status: v2::StatusNotificationRequest = typed(&payload_path, payload)?;
                Ok(vec![Op::Station(StationOp::Status {
                    connector: format!("{}.{}", status.evse_id, status.connector_id),
                    status: status.connector_status,
                    error_code: None,
                    timestamp: Some(status.timestamp),
                })])
            }
            _ => Ok(vec![Op::Ignored(action)]),
        }
    }
}

/// Deserialises a payload, naming the failing field (`frames[2][3].meterValue[0].timestamp`).
fn typed<T: DeserializeOwned>(path: &str, payload: Value) -> Result<T, ValidationErrors> {
    serde_path_to_error::deserialize(payload).map_err(|e| {
        let inner = e.path().to_string();
        let field = if inner == "." {
            path.to_owned()
        } else {
            format!("{path}.{inner}")
        };
        FieldError::new(field, e.inner().to_string()).into()
    })
}

/// An energy register reading in Wh (1.6 meterStart / meterStop).
fn register(ts: Micros, wh: i64, context: ReadingContext) -> Reading {
    Reading {
        ts,
        measurand: Measurand::EnergyActiveImportRegister,
        phase: None,
        location: Location::Outlet,
        unit: Some(UnitOfMeasure::Wh),
        value: wh as f64,
        context: Some(context),
    }
}

fn readings_v16(
    path: &str,
    values: &[v16::MeterValue],
    now: Micros,
) -> Result<Vec<Reading>, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut readings = Vec::new();
    for (i, mv) in values.iter().enumerate() {
        for (j, sv) in mv.sampled_value.iter().enumerate() {
            if sv.format.as_deref() == Some("SignedData") {
                continue; // a signed blob, not a number
            }
            let input = MeterValueIn {
                timestamp: Some(Cow::Borrowed(&mv.timestamp)),
                value: Some(Value::String(sv.value.clone())),
                measurand: sv.measurand.as_deref().map(Cow::Borrowed),
                // OCPP 1.6 spells it "Celcius".
                unit: sv
                    .unit
                    .as_deref()
                    .map(|u| Cow::Borrowed(if u == "Celcius" { "Celsius" } else { u })),
                phase: sv.phase.as_deref().map(Cow::Borrowed),
                location: sv.location.as_deref().map(Cow::Borrowed),
                context: sv.context.as_deref().map(Cow::Borrowed),
            };
            match input.validate(&format!("{path}[{i}].sampledValue[{j}]"), now) {
                Ok(r) => readings.push(r),
                Err(problems) => errors.extend(problems),
            }
        }
    }
    errors.into_result(readings)
}

fn readings_v2(path: &str, values: &[v2::MeterValue], now: Micros) -> Result<Vec<Reading>, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut readings = Vec::new();
    for (i, mv) in values.iter().enumerate() {
        for (j, sv) in mv.sampled_value.iter().enumerate() {
            // 2.0.1's "Upstream" (grid side of the meter) has no place in
            // evni's locations; the outlet reading is what a session is about.
            if sv.location.as_deref() == Some("Upstream") {
                continue;
            }
            let here = format!("{path}[{i}].sampledValue[{j}]");
            let unit = sv.unit_of_measure.as_ref();
            let multiplier = unit.and_then(|u| u.multiplier).unwrap_or(0);
            if !(-9..=9).contains(&multiplier) {
                errors.push(FieldError::new(
                    format!("{here}.unitOfMeasure.multiplier"),
                    "a power of ten from -9 to 9",
                ));
                continue;
            }
            let input = MeterValueIn {
                timestamp: Some(Cow::Borrowed(&mv.timestamp)),
                value: Some(Value::from(sv.value)),
                measurand: sv.measurand.as_deref().map(Cow::Borrowed),
                unit: unit.and_then(|u| u.unit.as_deref()).map(Cow::Borrowed),
                phase: sv.phase.as_deref().map(Cow::Borrowed),
                location: sv.location.as_deref().map(Cow::Borrowed),
                context: sv.context.as_deref().map(Cow::Borrowed),
            };
            match input.validate(&here, now) {
                Ok(mut r) => {
                    r.value *= 10f64.powi(multiplier);
                    readings.push(r);
                }
                Err(problems) => errors.extend(problems.into_iter().map(|mut e| {
                    if e.field.ends_with(".unit") {
                        e.field = format!("{here}.unitOfMeasure.unit");
                    }
                    e
                })),
            }
        }
    }
    errors.into_result(readings)
}

impl Mapper {
    /// No transaction running and no start waiting for its answer.
    pub fn is_idle(&self) -> bool {
        self.running.is_empty() && self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: Micros = 1_800_000_000_000_000;

    fn map(mapper: &mut Mapper, version: Version, frame: Value) -> Result<Vec<Op>, ValidationErrors> {
        mapper.map(version, "frames[0]", frame, NOW)
    }

    fn session(ops: Vec<Op>) -> SessionOp {
        match ops.as_slice() {
            [Op::Session(op)] => op.clone(),
            other => panic!("expected one session op, got {other:?}"),
        }
    }

    #[test]
    fn a_16_start_becomes_a_session_when_its_answer_names_the_transaction() {
        let mut m = Mapper::default();
        let start = json!([2, "m1", "StartTransaction", {"connectorId": 2, "idTag": "T", "meterStart": 1500, "timestamp": "2026-02-27T10:00:00Z"}]);
        assert!(map(&mut m, Version::V16, start).unwrap().is_empty());
        let answer = json!([3, "m1", {"transactionId": 77, "idTagInfo": {"status": "Accepted"}}]);
        let op = session(map(&mut m, Version::V16, answer).unwrap());
        assert_eq!(op.transaction_id, "77");
        assert_eq!(op.connector_id.as_deref(), Some("2"));
        assert_eq!(op.readings[0].value, 1500.0);
        assert_eq!(op.readings[0].unit, Some(UnitOfMeasure::Wh));
        assert!(matches!(op.event, SessionEvent::Started { .. }));

        // MeterValues without a transactionId go to the connector's running transaction.
        let values = json!([2, "m2", "MeterValues", {"connectorId": 2, "meterValue": [{"timestamp": "2026-02-27T10:01:00Z", "sampledValue": [{"value": "1600"}]}]}]);
        let op = session(map(&mut m, Version::V16, values).unwrap());
        assert_eq!(op.transaction_id, "77");
        assert_eq!(op.readings[0].measurand, Measurand::EnergyActiveImportRegister);
        assert_eq!(op.readings[0].location, Location::Outlet);

        let stop = json!([2, "m3", "StopTransaction", {"transactionId": 77, "meterStop": 2500, "timestamp": "2026-02-27T10:30:00Z", "reason": "Local"}]);
        let op = session(map(&mut m, Version::V16, stop).unwrap());
        assert_eq!(op.readings.last().unwrap().value, 2500.0);
        assert!(matches!(op.event, SessionEvent::Ended { reason: Some(ref r), .. } if r == "Local"));
        assert!(m.is_idle());
    }

    #[test]
    fn a_refused_or_unknown_answer_stores_nothing() {
        let mut m = Mapper::default();
        let start = json!([2, "m1", "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-02-27T10:00:00Z"}]);
        map(&mut m, Version::V16, start).unwrap();
        let refused = json!([3, "m1", {"transactionId": 5, "idTagInfo": {"status": "Blocked"}}]);
        assert_eq!(
            map(&mut m, Version::V16, refused).unwrap(),
            vec![Op::Ignored("StartTransaction refused (Blocked)".into())]
        );
        let stray = json!([3, "m9", {"currentTime": "2026-02-27T10:00:00Z"}]);
        assert_eq!(
            map(&mut m, Version::V16, stray).unwrap(),
            vec![Op::Ignored("CALLRESULT".into())]
        );
    }

    #[test]
    fn the_2x_multiplier_scales_the_value_in_its_unit() {
        let mut m = Mapper::default();
        let event = json!([2, "e1", "TransactionEvent", {
        "eventType": "Updated", "timestamp": "2026-02-27T10:05:00Z", "triggerReason": "MeterValuePeriodic", "seqNo": 1,
        "transactionInfo": {"transactionId": "tx-1"}, "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": "2026-02-27T10:05:00Z", "sampledValue": [
            {"value": 12.5, "unitOfMeasure": {"unit": "Wh", "multiplier": 3}},
            {"value": 7, "measurand": "Power.Active.Import", "phase": "L1-N", "unitOfMeasure": {"unit": "kW"}}
        ]}]}]);
        for version in [Version::V201, Version::V21] {
            let op = session(map(&mut m, version, event.clone()).unwrap());
            assert_eq!(op.transaction_id, "tx-1");
            assert_eq!(op.readings[0].value, 12_500.0);
            assert!(
                (op.readings[0].normalized() - 12.5).abs() < 1e-9,
                "12.5 kWh, not 12.5 Wh"
            );
            assert_eq!(op.readings[1].phase, Some(evni_domain::Phase::L1N));
        }
    }

    #[test]
    fn malformed_payloads_name_the_frame_and_field() {
        let mut m = Mapper::default();
        let foreign = json!([2, "m", "MeterValues", {"connectorId": 1, "transactionId": 3, "meterValue": [{"timestamp": "2026-02-27T10:00:00Z", "sampledValue": [{"value": "1", "unitOfMeasure": {"unit": "kWh"}}]}]}]);
        let errors = map(&mut m, Version::V16, foreign).unwrap_err();
        assert_eq!(
            errors.errors[0].field,
            "frames[0][3].meterValue[0].sampledValue[0].unitOfMeasure"
        );

        let bad_unit = json!([2, "e", "TransactionEvent", {
            "eventType": "Started", "timestamp": "2026-02-27T10:00:00Z", "triggerReason": "Authorized", "seqNo": 0,
            "transactionInfo": {"transactionId": "t"},
            "meterValue": [{"timestamp": "2026-02-27T10:00:00Z", "sampledValue": [{"value": 1, "unitOfMeasure": {"unit": "A"}}]}]}]);
        let errors = map(&mut m, Version::V201, bad_unit).unwrap_err();
        assert_eq!(
            errors.errors[0].field,
            "frames[0][3].meterValue[0].sampledValue[0].unitOfMeasure.unit"
        );

        let missing =
            json!([2, "s", "StopTransaction", {"transactionId": 3, "timestamp": "2026-02-27T10:00:00Z"}]);
        let errors = map(&mut m, Version::V16, missing).unwrap_err();
        assert_eq!(errors.errors[0].field, "frames[0][3]");
        assert!(
            errors.errors[0].problem.contains("meterStop"),
            "{}",
            errors.errors[0].problem
        );
    }

    #[test]
    fn status_and_boot_are_station_operations_and_others_are_counted() {
        let mut m = Mapper::default();
        let status = json!([2, "s", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}]);
        assert!(
            matches!(&map(&mut m, Version::V16, status).unwrap()[0], Op::Station(StationOp::Status { status, .. }) if status == "Charging")
        );
        let heartbeat = json!([2, "h", "Heartbeat", {}]);
        assert_eq!(
            map(&mut m, Version::V201, heartbeat).unwrap(),
            vec![Op::Ignored("Heartbeat".into())]
        );
    }
}
