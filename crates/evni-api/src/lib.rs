//! The HTTP API of evni (../shared/spec/api-reference.txt).

pub mod access;
mod auth;
mod body;
pub mod dto;
mod error;
mod explain;
pub mod json;
pub mod metrics;
pub mod observe;
mod openapi;
pub mod path;
mod query;
mod requests;
pub mod routes;
mod server;

use std::sync::Arc;

use axum::Router;
use evni_engine::Engine;

pub use access::AccessList;
pub use auth::{JwtKeys, Scope};
// The dashboard (evni-ui) authenticates with the same keys and calls the same handlers.
pub use auth::{Caller, Claims};
pub use error::ApiError;
pub use explain::{ExplainConfig, Explainer, LlmConfig, DEFAULT_LLM_TIMEOUT};
pub use metrics::MetricsConfig;
pub use server::{serve, ServerOptions};

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// Most meter values in one session of a request.
    pub max_meter_values: usize,
    /// Body limit of POST /v1/sessions/batch.
    pub max_batch_body_bytes: usize,
    pub max_batch_sessions: usize,
    /// A body must arrive within this, plus a second per 64 KiB; a client
    /// trickling bytes is answered 408 and its connection closed.
    pub body_grace: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024 * 1024,
            max_meter_values: 50_000,
            max_batch_body_bytes: 256 * 1024 * 1024,
            max_batch_sessions: 10_000,
            body_grace: std::time::Duration::from_secs(20),
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
    /// Who may scrape /metrics, and what it reports.
    pub metrics: Arc<MetricsConfig>,
    /// Revoked tokens and disabled tenants, refreshed from the database.
    pub access: Arc<AccessList>,
    /// Native OCPP: frames of door 1 and the proxy's tap, one mapping.
    pub ocpp: Arc<evni_ocpp::Ingest>,
}

/// The whole API as an axum router: every route sees gzip bodies decoded
/// (within the same limits) and is observed (request id, access log, metrics).
pub fn router(state: AppState) -> Router {
    metrics::handle();
    routes::router()
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
        .layer(axum::middleware::from_fn(observe::observe))
        .with_state(state)
}
