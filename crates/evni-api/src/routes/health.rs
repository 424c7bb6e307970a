//! Station health (SHADE): GET /v1/stations/{id}/inference and
//! GET /v1/stations/{id}/anomalies.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use evni_domain::micros_to_datetime;
use evni_store::StationInference;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ErrorBody};
use crate::path::Path;
use crate::query::Params;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/stations/{charging_station_id}/inference", get(inference))
        .route("/v1/stations/{charging_station_id}/anomalies", get(anomalies))
}

#[derive(OpenApi)]
#[openapi(paths(inference, anomalies), tags((name = "station health")))]
pub struct HealthDoc;

/// The latest SHADE result of a station.
#[derive(Debug, Serialize, ToSchema)]
pub struct StationInferenceResponse {
    /// The client's station id.
    pub charging_station_id: String,
    /// Whether a station anomaly is going on on the latest judged day.
    pub is_anomaly: bool,
    /// Severity 0.0–1.0: at least 0.5 for an anomaly; below, how close the
    /// latest day came to one.
    pub anomaly_score: f64,
    /// `anomaly_type`, `affected_period` and the expected and actual
    /// figures; `anomaly_type` is null when the station is healthy.
    #[schema(value_type = Object)]
    pub detection_details: serde_json::Value,
    pub analyzed_at: DateTime<Utc>,
}

impl From<StationInference> for StationInferenceResponse {
    fn from(i: StationInference) -> Self {
        Self {
            charging_station_id: i.station_external_id,
            is_anomaly: i.is_anomaly,
            anomaly_score: i.anomaly_score,
            detection_details: i.detection_details,
            analyzed_at: micros_to_datetime(i.analyzed_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationAnomalyItem {
    /// The SHADE run that found the anomaly.
    pub inference_id: String,
    pub is_anomaly: bool,
    pub anomaly_score: f64,
    #[schema(value_type = Object)]
    pub detection_details: serde_json::Value,
    /// When the anomaly was first detected.
    pub analyzed_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationAnomaliesResponse {
    pub items: Vec<StationAnomalyItem>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

/// Latest SHADE result for a station. SHADE runs on a schedule and shortly
/// after a station's data changes; a station never analysed yet, or with
/// complete days its latest result has not judged, is analysed on this
/// request. Days are judged once complete (in the station's zone), up to
/// the latest day the tenant sent data for (that day once no data came for
/// 5 s: an import may still be filling it).
#[utoipa::path(get, path = "/v1/stations/{charging_station_id}/inference", operation_id = "get_station_inference", tag = "station health",
    params(("charging_station_id" = String, Path, description = "Client station id or internal UUID")),
    responses((status = 200, body = StationInferenceResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn inference(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StationInferenceResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let store = state.engine.store();
    let latest = store.latest_station_inference(caller.tenant.id, &id).await?;
    let behind = match &latest {
        Some(latest) => state.health.is_behind(caller.tenant.id, latest).await?,
        None => true,
    };
    let latest = match latest {
        Some(latest) if !behind => latest,
        _ => state.health.assess_station(caller.tenant.id, &id).await?.1,
    };
    Ok(Json(latest.into()))
}

/// Station anomaly history, newest first: one item per anomaly and
/// affected period, however many runs saw it.
#[utoipa::path(get, path = "/v1/stations/{charging_station_id}/anomalies", operation_id = "list_station_anomalies", tag = "station health",
    params(("charging_station_id" = String, Path, description = "Client station id or internal UUID"),
        ("page" = Option<u32>, Query, minimum = 1), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "max 100")),
    responses((status = 200, body = StationAnomaliesResponse), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn anomalies(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<StationAnomaliesResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let mut params = Params::new(raw);
    let page = params.page();
    params.errors.into_result(())?;
    let page = state
        .engine
        .store()
        .station_anomalies(caller.tenant.id, &id, page)
        .await?;
    Ok(Json(StationAnomaliesResponse {
        items: page
            .items
            .into_iter()
            .map(|a| StationAnomalyItem {
                inference_id: a.inference_id,
                is_anomaly: true,
                anomaly_score: a.anomaly_score,
                detection_details: a.detection_details,
                analyzed_at: micros_to_datetime(a.detected_at),
            })
            .collect(),
        total: page.total,
        page: page.page,
        page_size: page.page_size,
    }))
}
