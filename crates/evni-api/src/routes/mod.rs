//! Routes of the API.

pub mod batch;
pub mod explain;
pub mod feedback;
pub mod health;
pub mod meta;
pub mod models;
pub mod network;
pub mod ocpp;
pub mod sessions;
pub mod settings;
pub mod stations;
pub mod webhooks;

use axum::routing::{get, post};
use axum::Router;

use crate::error::ApiError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", get(sessions::list).post(sessions::create))
        .route(
            "/v1/sessions/{session_id}",
            get(sessions::detail)
                .put(sessions::replace)
                .patch(sessions::append),
        )
        .route("/v1/sessions/batch", get(batch::list).post(batch::submit))
        .route("/v1/sessions/batch/{batch_id}", get(batch::status))
        .route("/v1/sessions/{session_id}/feedback", post(feedback::create))
        .route("/v1/sessions/{session_id}/explain", post(explain::explain))
        .route("/v1/sessions/{session_id}/ask", post(explain::ask))
        .route("/v1/settings", get(settings::get).patch(settings::patch))
        .route("/v1/stations", get(stations::list))
        .route(
            "/v1/stations/{charging_station_id}",
            get(stations::detail).patch(stations::patch),
        )
        .route(
            "/v1/stations/{charging_station_id}/connectors",
            get(stations::connectors),
        )
        .route("/v1/statistics", get(stations::statistics))
        .route("/v1/ocpp/{charging_station_id}", post(ocpp::ingest))
        .merge(health::routes())
        .merge(network::routes())
        .merge(webhooks::routes())
        .merge(models::routes())
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/openapi.json", get(meta::openapi))
        .route("/llms.txt", get(meta::llms_txt))
        .route("/metrics", get(crate::metrics::render))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}
