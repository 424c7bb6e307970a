//! Request bodies as clients send them, and their validation into engine
//! commands. Every problem is reported with its field path.

use std::borrow::Cow;
use std::collections::HashMap;

use evni_domain::meter_value::validate_meter_values;
use evni_domain::{ExternalId, FieldError, MeterValueIn, Reading, ValidationErrors};
use evni_engine::{Command, NewSession};
use serde::Deserialize;

use crate::error::ApiError;
use crate::Limits;

/// POST /v1/sessions, and one session of a batch.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionIn<'a> {
    #[serde(borrow, default)]
    pub session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub charging_station_id: Option<Cow<'a, str>>,
    /// The batch reference calls the station `charging_point_id`.
    #[serde(borrow, default)]
    pub charging_point_id: Option<Cow<'a, str>>,
    /// OCPP sends connector ids as integers; strings are accepted too.
    #[serde(default)]
    pub connector_id: Option<serde_json::Value>,
    #[serde(default)]
    pub evse_id: Option<serde_json::Value>,
    #[serde(borrow, default, deserialize_with = "crate::body::meter_values")]
    pub meter_values: Option<Vec<MeterValueIn<'a>>>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterValuesIn<'a> {
    #[serde(borrow, default, deserialize_with = "crate::body::meter_values")]
    pub meter_values: Option<Vec<MeterValueIn<'a>>>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchIn<'a> {
    #[serde(borrow, default, deserialize_with = "crate::body::sessions")]
    pub sessions: Option<Vec<CreateSessionIn<'a>>>,
}

/// Validates a POST body into the session id and a create command.
pub fn create_command(
    body: CreateSessionIn<'_>,
    limits: &Limits,
    now: i64,
) -> Result<(ExternalId, Command), ApiError> {
    check_count(
        "meter_values",
        body.meter_values.as_deref().unwrap_or_default(),
        limits,
    )?;
    let mut errors = ValidationErrors::default();
    let session = new_session("", body, now, &mut errors);
    match session {
        Some((id, session)) if errors.is_empty() => Ok((id, Command::Create(session))),
        _ => Err(errors.into()),
    }
}

/// Validates every session of a batch before anything is accepted.
pub fn batch_sessions(
    body: BatchIn<'_>,
    limits: &Limits,
    now: i64,
) -> Result<Vec<(ExternalId, NewSession)>, ApiError> {
    let Some(sessions) = body.sessions else {
        return Err(ApiError::validation("sessions", "is required"));
    };
    if sessions.is_empty() {
        return Err(ApiError::validation(
            "sessions",
            "a batch needs at least 1 session",
        ));
    }
    if sessions.len() > limits.max_batch_sessions {
        return Err(ApiError::PayloadTooLarge(format!(
            "the batch holds {} sessions; the limit is {} per batch",
            sessions.len(),
            limits.max_batch_sessions
        )));
    }
    for (i, session) in sessions.iter().enumerate() {
        check_count(
            &format!("sessions[{i}].meter_values"),
            session.meter_values.as_deref().unwrap_or_default(),
            limits,
        )?;
    }
    let mut errors = ValidationErrors::default();
    let mut first_index: HashMap<String, usize> = HashMap::new();
    let mut valid = Vec::with_capacity(sessions.len());
    for (i, session) in sessions.into_iter().enumerate() {
        let prefix = format!("sessions[{i}]");
        if let Some((id, session)) = new_session(&prefix, session, now, &mut errors) {
            if let Some(first) = first_index.insert(id.as_str().to_owned(), i) {
                errors.push(FieldError::new(
                    format!("{prefix}.session_id"),
                    format!("'{id}' appears twice in the batch (first at sessions[{first}])"),
                ));
            }
            valid.push((id, session));
        }
    }
    errors.into_result(valid).map_err(Into::into)
}

fn new_session(
    prefix: &str,
    body: CreateSessionIn<'_>,
    now: i64,
    errors: &mut ValidationErrors,
) -> Option<(ExternalId, NewSession)> {
    let path = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    let session_id = required_id(errors, &path("session_id"), body.session_id.as_deref())
        .filter(|id| !reserved(errors, &path("session_id"), id));
    let station = match (
        body.charging_station_id.as_deref(),
        body.charging_point_id.as_deref(),
    ) {
        (None, Some(point)) => required_id(errors, &path("charging_point_id"), Some(point)),
        (station, _) => required_id(errors, &path("charging_station_id"), station),
    };
    let connector_id = optional_id(errors, &path("connector_id"), body.connector_id.as_ref());
    let evse_id = optional_id(errors, &path("evse_id"), body.evse_id.as_ref());
    let metadata = metadata(errors, &path("metadata"), body.metadata);
    let values = body.meter_values.unwrap_or_default();
    let readings = validate_meter_values(&path("meter_values"), &values, now, errors);
    let (session_id, station) = (session_id?, station?);
    Some((
        session_id,
        NewSession {
            station,
            connector_id,
            evse_id,
            metadata,
            readings,
        },
    ))
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
    check_count("meter_values", &values, limits)?;
    if replace && values.is_empty() && errors.is_empty() {
        errors.push(FieldError::new(
            "meter_values",
            "a replacement needs at least 1 reading",
        ));
    }
    let metadata = metadata(&mut errors, "metadata", body.metadata);
    let readings: Vec<Reading> = validate_meter_values("meter_values", &values, now, &mut errors);
    errors.into_result(())?;
    Ok(if replace {
        Command::Replace { readings, metadata }
    } else {
        Command::Append { readings, metadata }
    })
}

fn check_count(field: &str, values: &[MeterValueIn<'_>], limits: &Limits) -> Result<(), ApiError> {
    if values.len() > limits.max_meter_values {
        return Err(ApiError::PayloadTooLarge(format!(
            "{field} holds {} readings; the limit is {} per session",
            values.len(),
            limits.max_meter_values
        )));
    }
    Ok(())
}

/// Session ids that name a route under /v1/sessions/ would be stored but
/// could never be read, replaced or appended to.
const RESERVED_SESSION_IDS: [&str; 1] = ["batch"];

fn reserved(errors: &mut ValidationErrors, field: &str, id: &ExternalId) -> bool {
    let reserved = RESERVED_SESSION_IDS.contains(&id.as_str());
    if reserved {
        errors.push(FieldError::new(
            field,
            format!("'{id}' is reserved: /v1/sessions/{id} is an endpoint of its own"),
        ));
    }
    reserved
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

fn metadata(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<serde_json::Value>,
) -> Option<serde_json::Value> {
    match raw {
        None | Some(serde_json::Value::Null) => None,
        Some(value @ serde_json::Value::Object(_)) => Some(value),
        Some(_) => {
            errors.push(FieldError::new(field, "expected a JSON object or null"));
            None
        }
    }
}
