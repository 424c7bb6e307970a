//! POST /v1/ocpp/{charging_station_id}: OCPP-J frames exactly as they
//! travel (door 1 of native OCPP; the WebSocket proxy is door 2).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::Json;
use evni_domain::{ExternalId, FieldError};
use evni_ocpp::{IngestError, Version};
use serde::Serialize;
use serde_json::Value;

use crate::auth::{Caller, Scope};
use crate::dto::SessionAnalysisResponse;
use crate::error::{ApiError, ErrorBody};
use crate::json::JsonBody;
use crate::AppState;

/// What a batch of OCPP frames did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OcppIngestResponse {
    pub charging_station_id: String,
    /// The OCPP version the frames were read as.
    pub version: String,
    /// Frames received.
    pub frames: usize,
    /// Operations stored: session readings and life-cycle, station status.
    pub stored: usize,
    /// Frames accepted and counted but not stored, by action.
    pub ignored: BTreeMap<String, u64>,
    /// The verdict of every session the frames touched (`session_id` is
    /// `{charging_station_id}:{transactionId}`).
    pub sessions: Vec<SessionAnalysisResponse>,
}

/// Take OCPP-J frames (one, or a JSON array of frames, in order) of one
/// charging station. All frames are checked first: a malformed frame is a
/// 422 naming `frames[i]` and the field, and none of the frames is kept.
#[utoipa::path(post, path = "/v1/ocpp/{charging_station_id}", tag = "ocpp",
    params(
        ("charging_station_id" = String, Path, description = "The charging station (charge box) id"),
        ("version" = Option<String>, Query, description = "OCPP version: 1.6 (default), 2.0.1 or 2.1")),
    request_body(content = Value, description = "[2, id, action, payload] | [3, id, payload] | [4, id, code, description, details], or an array of them"),
    responses(
        (status = 200, body = OcppIngestResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    Path(station): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: JsonBody,
) -> Result<Json<OcppIngestResponse>, ApiError> {
    caller.require(Scope::Write)?;
    let station =
        ExternalId::parse("charging_station_id", &station).map_err(|e| ApiError::Validation(e.into()))?;
    let version = version(&query)?;
    let frames = frames(&body)?;
    if frames.len() > state.limits.max_meter_values {
        return Err(ApiError::PayloadTooLarge(format!(
            "the request holds {} frames; the limit is {}",
            frames.len(),
            state.limits.max_meter_values
        )));
    }
    let now = chrono::Utc::now().timestamp_micros();
    let outcome = state
        .ocpp
        .ingest(&caller.tenant, &station, version, frames, now)
        .await
        .map_err(|e| match e {
            IngestError::Invalid(errors) => ApiError::Validation(errors),
            IngestError::Engine(e) => e.into(),
            IngestError::Store(e) => e.into(),
        })?;
    Ok(Json(OcppIngestResponse {
        charging_station_id: station.into_string(),
        version: version.as_str().to_owned(),
        frames: outcome.frames,
        stored: outcome.stored,
        ignored: outcome.ignored,
        sessions: outcome
            .sessions
            .iter()
            .map(|(id, verdict)| SessionAnalysisResponse::new(id, verdict))
            .collect(),
    }))
}

fn version(query: &HashMap<String, String>) -> Result<Version, ApiError> {
    if let Some(unknown) = query.keys().find(|k| *k != "version") {
        return Err(ApiError::Validation(
            FieldError::new(unknown.as_str(), "unknown query parameter")
                .with_accepted(["version"])
                .into(),
        ));
    }
    match query.get("version") {
        None => Ok(Version::V16),
        Some(raw) => Version::parse(raw).ok_or_else(|| {
            ApiError::Validation(
                FieldError::new("version", format!("unknown OCPP version '{raw}'"))
                    .with_accepted(Version::accepted())
                    .into(),
            )
        }),
    }
}

/// One frame (`[2, ...]`) or an array of frames (`[[2, ...], [3, ...]]`).
fn frames(body: &JsonBody) -> Result<Vec<Value>, ApiError> {
    let value: Value = serde_json::from_slice(&body.0)
        .map_err(|e| ApiError::MalformedJson(format!("the body is not valid JSON: {e}")))?;
    match value {
        Value::Array(items) if items.first().is_some_and(Value::is_number) => Ok(vec![Value::Array(items)]),
        Value::Array(items) if !items.is_empty() => Ok(items),
        Value::Array(_) => Err(ApiError::validation("frames", "at least 1 frame is needed")),
        _ => Err(ApiError::validation(
            "frames",
            "expected an OCPP-J frame ([2, id, action, payload]) or a JSON array of frames",
        )),
    }
}
