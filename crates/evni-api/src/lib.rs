//! The HTTP API of evni (../shared/spec/api-reference.txt).

mod auth;
mod dto;
mod error;
mod explain;
mod json;
mod openapi;
mod query;
mod requests;
mod routes;

use std::sync::Arc;

use axum::Router;
use evni_engine::Engine;

pub use auth::{JwtKeys, Scope};
pub use error::ApiError;
pub use explain::{ExplainConfig, Explainer, LlmConfig, DEFAULT_LLM_TIMEOUT};

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// Most meter values in one session of a request.
    pub max_meter_values: usize,
    /// Body limit of POST /v1/sessions/batch.
    pub max_batch_body_bytes: usize,
    pub max_batch_sessions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024 * 1024,
            max_meter_values: 50_000,
            max_batch_body_bytes: 256 * 1024 * 1024,
            max_batch_sessions: 10_000,
        }
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub keys: Arc<JwtKeys>,
    pub limits: Limits,
    /// Explain and Ask: optional model, per-tenant rate limit.
    pub explain: Arc<Explainer>,
    /// Station health: SHADE runs and webhook deliveries.
    pub health: Arc<evni_health::Health>,
    /// The model registry: records, artifacts, each tenant's active model.
    pub models: Arc<evni_engine::registry::ModelRegistry>,
    /// Native OCPP: frames of door 1 and the proxy's tap, one mapping.
    pub ocpp: Arc<evni_ocpp::Ingest>,
}

/// The whole API as an axum router.
pub fn router(state: AppState) -> Router {
    routes::router().with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes the
/// requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
