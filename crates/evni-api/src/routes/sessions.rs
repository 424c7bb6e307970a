//! /v1/sessions

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::Json;
use evni_domain::ExternalId;
use evni_store::SessionFilter;

use crate::auth::{Caller, Scope};
use crate::dto::*;
use crate::error::{ApiError, ErrorBody};
use crate::json::JsonBody;
use crate::path::Path;
use crate::query::Params;
use crate::requests::{self, CreateSessionIn, MeterValuesIn};
use crate::AppState;

fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Create a session (or upsert it) and analyse it once it holds >= 3 meter values.
#[utoipa::path(post, path = "/v1/sessions", operation_id = "create_session", tag = "sessions",
    request_body = SessionCreateRequest,
    responses(
        (status = 200, body = SessionAnalysisResponse),
        (status = 409, body = ErrorBody, description = "The session changed concurrently; retry"),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<Json<SessionAnalysisResponse>, ApiError> {
    caller.require(Scope::Write)?;
    let parsed: CreateSessionIn = body.parse()?;
    let (session_id, command) = requests::create_command(parsed, &state.limits, now())?;
    let session = state.engine.apply(&caller.tenant, &session_id, command).await?;
    Ok(Json(SessionAnalysisResponse::new(
        session_id.as_str(),
        &session.verdict,
    )))
}

/// Replace all meter values of a session.
#[utoipa::path(put, path = "/v1/sessions/{session_id}", operation_id = "replace_meter_values", tag = "sessions",
    params(("session_id" = String, Path, description = "Client session identifier")),
    request_body = MeterValuesRequest,
    responses((status = 200, body = SessionUpdateResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The session changed concurrently; retry"),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
    body: JsonBody,
) -> Result<Json<SessionUpdateResponse>, ApiError> {
    update(state, caller, session_id, body, true).await
}

/// Append meter values to a session (OCPI-like incremental push).
#[utoipa::path(patch, path = "/v1/sessions/{session_id}", operation_id = "append_meter_values", tag = "sessions",
    params(("session_id" = String, Path, description = "Client session identifier")),
    request_body = MeterValuesRequest,
    responses((status = 200, body = SessionUpdateResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The session changed concurrently; retry"),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn append(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
    body: JsonBody,
) -> Result<Json<SessionUpdateResponse>, ApiError> {
    update(state, caller, session_id, body, false).await
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name, replace))]
async fn update(
    state: AppState,
    caller: Caller,
    session_id: String,
    body: JsonBody,
    replace: bool,
) -> Result<Json<SessionUpdateResponse>, ApiError> {
    caller.require(Scope::Write)?;
    let session_id =
        ExternalId::parse("session_id", &session_id).map_err(|e| ApiError::Validation(e.into()))?;
    let parsed: MeterValuesIn = body.parse()?;
    let command = requests::meter_values_command(parsed, replace, &state.limits, now())?;
    let session = state.engine.apply(&caller.tenant, &session_id, command).await?;
    Ok(Json(SessionUpdateResponse::new(
        session_id.as_str(),
        &session.verdict,
    )))
}

/// List sessions with pagination and filters.
#[utoipa::path(get, path = "/v1/sessions", operation_id = "list_sessions", tag = "sessions",
    params(
        ("page" = Option<u32>, Query, minimum = 1, description = "Page number (default 1)"),
        ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, max 100 (default 20)"),
        ("charging_station_id" = Option<String>, Query, description = "Station (client id or UUID)"),
        ("evse_id" = Option<String>, Query),
        ("is_anomaly" = Option<bool>, Query),
        ("min_score" = Option<f64>, Query, minimum = 0, maximum = 1),
        ("min_confidence" = Option<f64>, Query, minimum = 0, maximum = 1),
        ("date_from" = Option<String>, Query, description = "Sessions starting at or after (ISO 8601)"),
        ("date_to" = Option<String>, Query, description = "Sessions starting up to (ISO 8601; a date includes that day)")),
    responses((status = 200, body = SessionListResponse), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<SessionListResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let filter = list_filter(raw)?;
    let page = state
        .engine
        .store()
        .list_sessions(caller.tenant.id, &filter)
        .await?;
    Ok(Json(SessionListResponse {
        items: page.items.into_iter().map(SessionListItem::from).collect(),
        total: page.total,
        page: page.page,
        page_size: page.page_size,
    }))
}

/// The list's filter from its query parameters (the API reference's; the
/// dashboard adds its own category filter on top).
pub fn list_filter(raw: HashMap<String, String>) -> Result<SessionFilter, ApiError> {
    let mut params = Params::new(raw);
    let filter = SessionFilter {
        page: Some(params.page()),
        station: params.string("charging_station_id"),
        evse_id: params.string("evse_id"),
        is_anomaly: params.boolean("is_anomaly"),
        min_score: params.fraction("min_score"),
        min_confidence: params.fraction("min_confidence"),
        date_from: params.instant("date_from", false),
        date_to: params.instant("date_to", true),
        category: None,
    };
    params.errors.into_result(())?;
    Ok(filter)
}

/// Full session detail: meter values, analysis and anomalies.
#[utoipa::path(get, path = "/v1/sessions/{session_id}", operation_id = "get_session", tag = "sessions",
    params(("session_id" = String, Path, description = "Client session identifier or internal UUID")),
    responses((status = 200, body = SessionDetailResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
) -> Result<Json<SessionDetailResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let detail = state
        .engine
        .store()
        .session_detail(caller.tenant.id, &session_id)
        .await?;
    Ok(Json(SessionDetailResponse::from(&detail)))
}
