//! /v1/stations and /v1/statistics

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::Json;
use evni_domain::{ExternalId, FieldError, ValidationErrors};
use serde::Deserialize;

use crate::auth::{Caller, Scope};
use crate::dto::*;
use crate::error::{ApiError, ErrorBody};
use crate::json::JsonBody;
use crate::path::Path;
use crate::query::Params;
use crate::AppState;

/// List stations with aggregated anomaly statistics.
#[utoipa::path(get, path = "/v1/stations", operation_id = "list_stations", tag = "stations",
    params(("page" = Option<u32>, Query, minimum = 1), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "max 100")),
    responses((status = 200, body = StationListResponse), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<StationListResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let mut params = Params::new(raw);
    let page = params.page();
    params.errors.into_result(())?;
    let page = state.engine.store().list_stations(caller.tenant.id, page).await?;
    Ok(Json(StationListResponse {
        items: page.items.into_iter().map(StationListItem::from).collect(),
        total: page.total,
        page: page.page,
        page_size: page.page_size,
    }))
}

/// Station detail: connectors, session and anomaly counts, metadata.
#[utoipa::path(get, path = "/v1/stations/{charging_station_id}", operation_id = "get_station", tag = "stations",
    params(("charging_station_id" = String, Path, description = "Client station id or internal UUID")),
    responses((status = 200, body = StationDetailResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StationDetailResponse>, ApiError> {
    caller.require(Scope::Read)?;
    station_detail(&state, &caller, &id).await.map(Json)
}

async fn station_detail(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<StationDetailResponse, ApiError> {
    let store = state.engine.store();
    let station = store.station(caller.tenant.id, id).await?;
    let connectors = store.station_connectors(caller.tenant.id, id).await?;
    Ok(StationDetailResponse {
        charging_station_id: station.uuid.to_string(),
        external_station_id: station.external_id,
        connectors: connectors
            .into_iter()
            .map(|c| ConnectorInfo {
                connector_id: c.connector_id,
                total_sessions: c.total_sessions,
                anomalous_sessions: c.anomalous_sessions,
            })
            .collect(),
        total_sessions: station.total_sessions,
        anomalous_sessions: station.anomalous_sessions,
        metadata: station.metadata,
    })
}

/// Connectors with a per-category anomaly breakdown.
#[utoipa::path(get, path = "/v1/stations/{charging_station_id}/connectors", operation_id = "list_station_connectors", tag = "stations",
    params(("charging_station_id" = String, Path, description = "Client station id or internal UUID")),
    responses((status = 200, body = StationConnectorsResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn connectors(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StationConnectorsResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let store = state.engine.store();
    let station = store.station(caller.tenant.id, &id).await?;
    let connectors = store.station_connectors(caller.tenant.id, &id).await?;
    Ok(Json(StationConnectorsResponse {
        charging_station_id: station.external_id,
        connectors: connectors
            .into_iter()
            .map(|c| StationConnectorItem {
                connector_id: c.connector_id,
                total_sessions: c.total_sessions,
                anomalous_sessions: c.anomalous_sessions,
                anomaly_categories: c.categories,
            })
            .collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StationPatchIn {
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

/// Set station metadata (address, operator, rated power per connector).
/// Creates the station if it does not exist yet, so it can be configured
/// before its first session arrives.
#[utoipa::path(patch, path = "/v1/stations/{charging_station_id}", operation_id = "patch_station", tag = "stations",
    params(("charging_station_id" = String, Path, description = "Client station id or internal UUID")),
    request_body = StationPatchRequest,
    responses((status = 200, body = StationDetailResponse), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<StationDetailResponse>, ApiError> {
    caller.require(Scope::Write)?;
    ExternalId::parse("charging_station_id", &id).map_err(|e| ApiError::Validation(e.into()))?;
    let parsed: StationPatchIn = body.parse()?;
    let patch = match parsed.metadata {
        Some(serde_json::Value::Object(map)) => map,
        Some(_) => return Err(ApiError::validation("metadata", "expected a JSON object")),
        None => return Err(ApiError::validation("metadata", "is required")),
    };
    validate_station_metadata(&patch)?;
    state
        .engine
        .store()
        .patch_station_metadata(caller.tenant.id, &id, patch)
        .await?;
    state.engine.station_changed();
    station_detail(&state, &caller, &id).await.map(Json)
}

/// The keys the analysis reads must hold what it expects.
fn validate_station_metadata(patch: &serde_json::Map<String, serde_json::Value>) -> Result<(), ApiError> {
    let mut errors = ValidationErrors::default();
    let check_power = |errors: &mut ValidationErrors, field: String, value: &serde_json::Value| {
        if !(value.is_null() || value.as_f64().is_some_and(|kw| kw > 0.0 && kw <= 2000.0)) {
            errors.push(FieldError::new(
                field,
                "rated power must be a number of kW above 0 and at most 2000",
            ));
        }
    };
    if let Some(power) = patch.get("rated_power_kw") {
        check_power(&mut errors, "metadata.rated_power_kw".into(), power);
    }
    match patch.get("time_zone") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::String(zone)) if super::settings::is_time_zone(zone) => {}
        Some(_) => errors.push(FieldError::new(
            "metadata.time_zone",
            "must be an IANA time zone name such as \"America/Denver\", or null for the tenant's",
        )),
    }
    match patch.get("connectors") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(connectors)) => {
            for (connector, settings) in connectors {
                match settings {
                    serde_json::Value::Object(settings) => {
                        if let Some(power) = settings.get("rated_power_kw") {
                            check_power(
                                &mut errors,
                                format!("metadata.connectors.{connector}.rated_power_kw"),
                                power,
                            );
                        }
                    }
                    serde_json::Value::Null => {}
                    _ => errors.push(FieldError::new(
                        format!("metadata.connectors.{connector}"),
                        "expected an object such as {\"rated_power_kw\": 22}",
                    )),
                }
            }
        }
        Some(_) => errors.push(FieldError::new(
            "metadata.connectors",
            "expected an object keyed by connector id, e.g. {\"1\": {\"rated_power_kw\": 22}}",
        )),
    }
    errors.into_result(()).map_err(Into::into)
}

/// Tenant-wide summary.
#[utoipa::path(get, path = "/v1/statistics", operation_id = "get_statistics", tag = "statistics",
    responses((status = 200, body = StatisticsResponse)),
    security(("bearer" = [])))]
pub async fn statistics(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<StatisticsResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let stats = state.engine.store().statistics(caller.tenant.id).await?;
    let anomaly_rate = if stats.total_sessions == 0 {
        0.0
    } else {
        stats.anomalous_sessions as f64 / stats.total_sessions as f64
    };
    Ok(Json(StatisticsResponse {
        total_sessions: stats.total_sessions,
        anomalous_sessions: stats.anomalous_sessions,
        total_stations: stats.total_stations,
        stations_with_anomalies: stats.stations_with_anomalies,
        anomaly_rate,
    }))
}
