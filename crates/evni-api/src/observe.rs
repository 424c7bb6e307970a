//! One middleware around every request: a request id (taken from
//! `x-request-id` or made up, echoed in the response and in error bodies),
//! one access log line, the HTTP metrics, and the JSON error shape for the
//! few errors that do not come from our handlers (axum's extractors,
//! tower-http's layers).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub const REQUEST_ID: &str = "x-request-id";
/// Longer client ids are replaced: they end up in every log line.
const MAX_REQUEST_ID_LEN: usize = 128;

/// What the handlers learn about a request that the log line reports.
pub struct RequestContext {
    pub id: String,
    tenant: OnceLock<String>,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The id of the request being handled, if any (error bodies carry it).
pub fn request_id() -> Option<String> {
    CONTEXT.try_with(|c| c.id.clone()).ok()
}

/// Called by authentication: the access log names the caller's tenant.
pub fn record_tenant(name: &str) {
    let _ = CONTEXT.try_with(|c| c.tenant.set(name.to_owned()));
}

pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID_LEN && v.chars().all(|c| c.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::now_v7().simple().to_string(), str::to_owned);
    let method = request.method().clone();
    // The route template, not the path: ids would make every line a series.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let context = RequestContext {
        id: id.clone(),
        tenant: OnceLock::new(),
    };
    let (mut response, tenant) = CONTEXT
        .scope(context, async {
            let response = next.run(request).await;
            let response = json_error_shape(response).await;
            let tenant = CONTEXT.with(|c| c.tenant.get().cloned());
            (response, tenant)
        })
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    let latency = started.elapsed();
    crate::metrics::http_request(method.as_str(), &route, status, latency);
    tracing::info!(
        target: "evni::access",
        method = %method,
        route = %route,
        status,
        latency_ms = latency.as_secs_f64() * 1000.0,
        tenant = tenant.as_deref().unwrap_or("-"),
        request_id = %id,
        "request"
    );
    response
}

/// Errors answered by layers and extractors outside our handlers come as
/// plain text; clients get the one JSON error shape for every error.
async fn json_error_shape(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Their text says what went wrong (e.g. which path parameter); keep it.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    let message = match String::from_utf8_lossy(&text).trim() {
        "" => reason,
        text => format!("{reason}: {text}"),
    };
    let mut rewritten = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(message),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(format!(
            "{message} (Content-Encoding: gzip or identity are accepted)"
        )),
        StatusCode::BAD_REQUEST => ApiError::MalformedJson(message),
        StatusCode::NOT_FOUND => ApiError::NotFound(message),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(message),
        StatusCode::REQUEST_TIMEOUT => ApiError::Timeout(message),
        s if s.is_server_error() => ApiError::Internal(format!("{s} from a layer")),
        _ => ApiError::validation("request", message),
    }
    .into_response();
    // Keep the status the layer chose (e.g. 400 for a bad path parameter).
    *rewritten.status_mut() = status;
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().entry(name).or_insert(value.clone());
        }
    }
    rewritten
}
