//! Network health (an extension, issue 19): GET /v1/network/health.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use evni_domain::micros_to_datetime;
use evni_store::NetworkHealth;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/network/health", get(health))
}

#[derive(OpenApi)]
#[openapi(paths(health), tags((name = "station health")))]
pub struct NetworkDoc;

/// The tenant's network: whether its stations are falling together, and
/// every such event.
#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkHealthResponse {
    /// Whether a network drop is going on on the latest judged day.
    pub is_network_drop: bool,
    /// The last day judged (`YYYY-MM-DD`): complete at every station.
    pub judged_through: String,
    /// The ongoing event's details, or the latest day's expected and
    /// actual sessions (`event_type` null).
    #[schema(value_type = Object)]
    pub detection_details: serde_json::Value,
    pub analyzed_at: DateTime<Utc>,
    /// Every network event, newest first.
    pub events: Vec<NetworkEventItem>,
}

/// A network event: a large share of the tenant's stations fell together.
#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkEventItem {
    /// Severity 0.5–1.0: how far the network fell, and how sure.
    pub anomaly_score: f64,
    /// `event_type` (`network_drop`), `affected_period` (first day),
    /// `affected_days`, `last_affected_day`, `detected_on`, `status`
    /// (`ongoing` or `resolved`), `expected_sessions`, `actual_sessions`,
    /// `stations_judged` and `stations_fallen`.
    #[schema(value_type = Object)]
    pub detection_details: serde_json::Value,
    /// When the event was first detected.
    pub analyzed_at: DateTime<Utc>,
}

impl From<NetworkHealth> for NetworkHealthResponse {
    fn from(h: NetworkHealth) -> Self {
        Self {
            is_network_drop: h.is_drop,
            judged_through: micros_to_datetime(h.judged_through * 86_400_000_000)
                .format("%Y-%m-%d")
                .to_string(),
            detection_details: h.detection_details,
            analyzed_at: micros_to_datetime(h.analyzed_at),
            events: h
                .events
                .into_iter()
                .map(|e| NetworkEventItem {
                    anomaly_score: e.anomaly_score,
                    detection_details: e.detection_details,
                    analyzed_at: micros_to_datetime(e.detected_at),
                })
                .collect(),
        }
    }
}

/// Network health of the tenant (an extension). When a large share of the
/// stations fall together (a lockdown, a payment back end down), that is
/// one network event, sent as `network.drop_detected` and
/// `network.drop_resolved` webhooks, and each station is judged only
/// against what the others did not do. Judged with the stations' runs;
/// complete days not judged yet are judged on this request.
#[utoipa::path(get, path = "/v1/network/health", operation_id = "get_network_health", tag = "station health",
    responses((status = 200, body = NetworkHealthResponse), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn health(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<NetworkHealthResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let health = state.health.network_health(caller.tenant.id).await?;
    Ok(Json(health.into()))
}
