//! Request bodies as clients send them, and their validation into engine
//! commands. Every problem is reported with its field path.

use std::borrow::Cow;

use evni_domain::meter_value::validate_meter_values;
use evni_domain::{ExternalId, FieldError, MeterValueIn, Reading, ValidationErrors};
use evni_engine::{Command, NewSession};
use serde::Deserialize;

use crate::error::ApiError;
use crate::Limits;

#[derive(Deserialize)]
pub struct CreateSessionIn<'a> {
    #[serde(borrow, default)]
    pub session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub charging_station_id: Option<Cow<'a, str>>,
    /// OCPP sends connector ids as integers; strings are accepted too.
    #[serde(default)]
    pub connector_id: Option<serde_json::Value>,
    #[serde(default)]
    pub evse_id: Option<serde_json::Value>,
    #[serde(borrow, default)]
    pub meter_values: Option<Vec<MeterValueIn<'a>>>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub struct MeterValuesIn<'a> {
    #[serde(borrow, default)]
    pub meter_values: Option<Vec<MeterValueIn<'a>>>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

/// Validates a POST body into the session id and a create command.
pub fn create_command(
    body: CreateSessionIn<'_>,
    limits: &Limits,
    now: i64,
) -> Result<(ExternalId, Command), ApiError> {
    let values = body.meter_values.unwrap_or_default();
    check_count(&values, limits)?;
    let mut errors = ValidationErrors::default();
    let session_id = required_id(&mut errors, "session_id", body.session_id.as_deref());
    let station = required_id(
        &mut errors,
        "charging_station_id",
        body.charging_station_id.as_deref(),
    );
    let connector_id = optional_id(&mut errors, "connector_id", body.connector_id.as_ref());
    let evse_id = optional_id(&mut errors, "evse_id", body.evse_id.as_ref());
    let metadata = metadata(&mut errors, body.metadata);
    let readings = validate_meter_values("meter_values", &values, now, &mut errors);
    let (Some(session_id), Some(station)) = (session_id, station) else {
        return Err(errors.into());
    };
    let command = Command::Create(NewSession {
        station,
        connector_id,
        evse_id,
        metadata,
        readings,
    });
    errors.into_result((session_id, command)).map_err(Into::into)
}

/// Validates a PUT (`replace`) or PATCH body.
pub fn meter_values_command(
    body: MeterValuesIn<'_>,
    replace: bool,
    limits: &Limits,
    now: i64,
) -> Result<Command, ApiError> {
    let mut errors = ValidationErrors::default();
    let values = match body.meter_values {
        Some(values) => values,
        None => {
            errors.push(FieldError::new("meter_values", "is required"));
            Vec::new()
        }
    };
    check_count(&values, limits)?;
    if replace && values.is_empty() && errors.is_empty() {
        errors.push(FieldError::new(
            "meter_values",
            "a replacement needs at least 1 reading",
        ));
    }
    let metadata = metadata(&mut errors, body.metadata);
    let readings: Vec<Reading> = validate_meter_values("meter_values", &values, now, &mut errors);
    errors.into_result(())?;
    Ok(if replace {
        Command::Replace { readings, metadata }
    } else {
        Command::Append { readings, metadata }
    })
}

fn check_count(values: &[MeterValueIn<'_>], limits: &Limits) -> Result<(), ApiError> {
    if values.len() > limits.max_meter_values {
        return Err(ApiError::PayloadTooLarge(format!(
            "meter_values holds {} readings; the limit is {} per request",
            values.len(),
            limits.max_meter_values
        )));
    }
    Ok(())
}

fn required_id(errors: &mut ValidationErrors, field: &str, raw: Option<&str>) -> Option<ExternalId> {
    let Some(raw) = raw else {
        errors.push(FieldError::new(field, "is required"));
        return None;
    };
    ExternalId::parse(field, raw).map_err(|e| errors.push(e)).ok()
}

fn optional_id(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&serde_json::Value>,
) -> Option<ExternalId> {
    let text = match raw? {
        serde_json::Value::Null => return None,
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) if n.is_u64() => n.to_string(),
        _ => {
            errors.push(FieldError::new(
                field,
                "expected a string or a non-negative integer",
            ));
            return None;
        }
    };
    ExternalId::parse(field, &text).map_err(|e| errors.push(e)).ok()
}

fn metadata(errors: &mut ValidationErrors, raw: Option<serde_json::Value>) -> Option<serde_json::Value> {
    match raw {
        None | Some(serde_json::Value::Null) => None,
        Some(value @ serde_json::Value::Object(_)) => Some(value),
        Some(_) => {
            errors.push(FieldError::new("metadata", "expected a JSON object or null"));
            None
        }
    }
}
