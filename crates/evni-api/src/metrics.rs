//! `GET /metrics` in the Prometheus text format. Counters and histograms
//! are recorded where things happen (requests here, analyses in the engine,
//! SHADE runs in evni-health); queue depths, the hot cache and the WAL are
//! read when scraped.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::ApiError;
use crate::AppState;

/// Who may read /metrics and what it reports beyond the recorded series.
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// When set, a scrape must send `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// The SQLite write-ahead log, whose size is reported.
    pub wal_path: Option<PathBuf>,
}

/// Latency buckets in seconds: 100 µs to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0,
];

/// The process-wide recorder; installed once, however many apps a test
/// process builds.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (an embedding program's):
        // then ours only renders what it was given.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Records one answered HTTP request.
pub fn http_request(method: &str, route: &str, status: u16, latency: Duration) {
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("evni_http_requests_total", &labels).increment(1);
    metrics::histogram!(
        "evni_http_request_duration_seconds",
        "method" => method.to_owned(),
        "route" => route.to_owned()
    )
    .record(latency.as_secs_f64());
}

pub async fn render(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(token) = &state.metrics.token {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if sent.map(str::as_bytes) != Some(token.as_bytes()) {
            return Err(ApiError::Unauthorized("/metrics needs the metrics token".into()));
        }
    }
    let handle = handle();
    match state.engine.store().queue_depths().await {
        Ok(depths) => {
            metrics::gauge!("evni_jobs_queued").set(depths.jobs_queued as f64);
            metrics::gauge!("evni_jobs_running").set(depths.jobs_running as f64);
            metrics::gauge!("evni_webhook_deliveries_pending").set(depths.webhook_deliveries_pending as f64);
        }
        Err(error) => tracing::warn!(%error, "reading queue depths for /metrics"),
    }
    let (sessions, readings) = state.engine.hot_cache_size();
    metrics::gauge!("evni_hot_cache_sessions").set(sessions as f64);
    metrics::gauge!("evni_hot_cache_readings").set(readings as f64);
    if let Some(path) = &state.metrics.wal_path {
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        metrics::gauge!("evni_sqlite_wal_bytes").set(bytes as f64);
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    ))
}
