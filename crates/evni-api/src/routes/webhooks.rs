//! /v1/webhooks: a tenant's webhook endpoints and their deliveries.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use evni_domain::{micros_to_datetime, FieldError, ValidationErrors};
use evni_store::{NewWebhookEndpoint, WebhookEndpoint};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ErrorBody};
use crate::json::JsonBody;
use crate::path::Path;
use crate::query::Params;
use crate::AppState;

/// The events an endpoint receives (`station.anomaly_resolved`: an
/// extension, once when an anomaly's episode is over; the network's:
/// extensions too).
const EVENTS: [&str; 4] = [
    "station.anomaly_detected",
    "station.anomaly_resolved",
    evni_store::NETWORK_DROP_EVENT,
    evni_store::NETWORK_RESOLVED_EVENT,
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks", get(list).post(create))
        .route(
            "/v1/webhooks/{webhook_endpoint_id}",
            axum::routing::delete(delete),
        )
        .route("/v1/webhooks/{webhook_endpoint_id}/deliveries", get(deliveries))
        .route("/v1/webhooks/{webhook_endpoint_id}/test", post(send_test))
}

#[derive(OpenApi)]
#[openapi(paths(create, list, delete, deliveries, send_test), tags((name = "webhooks")))]
pub struct WebhooksDoc;

/// POST /v1/webhooks body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookCreateRequest {
    /// Public http(s) URL that receives the events.
    pub url: String,
    /// Sent as the `Authorization` header of every delivery, e.g. a bearer
    /// token the receiver gave you. Stored, never shown again.
    #[serde(default)]
    pub authorization: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointResponse {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    /// Whether deliveries carry an `Authorization` header.
    pub has_authorization: bool,
    pub events: Vec<&'static str>,
    pub created_at: DateTime<Utc>,
}

impl From<WebhookEndpoint> for WebhookEndpointResponse {
    fn from(e: WebhookEndpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            description: e.description,
            has_authorization: e.has_authorization,
            events: EVENTS.to_vec(),
            created_at: micros_to_datetime(e.created_at),
        }
    }
}

/// The endpoint as created, with its signing secret: shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookCreatedResponse {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointResponse,
    /// `whsec_...`: verify `webhook-signature` (Standard Webhooks) with it.
    /// Keep it: it is not shown again; delete and recreate the endpoint to
    /// rotate it.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookListResponse {
    pub items: Vec<WebhookEndpointResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAttemptItem {
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status; null when no response came.
    pub status_code: Option<u16>,
    /// Why no response came (timeout, refused address, ...).
    pub error: Option<String>,
    pub duration_ms: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryItem {
    /// The `webhook-id` header and payload field: the same on every attempt.
    pub webhook_id: String,
    pub event: String,
    pub charging_station_id: String,
    /// pending, delivered, failed (gave up after 24 h) or cancelled (endpoint deleted).
    pub status: String,
    pub attempts: Vec<WebhookAttemptItem>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The exact body sent.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveriesResponse {
    pub items: Vec<WebhookDeliveryItem>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

/// A test event queued for delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookTestResponse {
    /// Find its attempts under the endpoint's deliveries by this id.
    pub webhook_id: String,
    /// Always `webhook.test`.
    pub event: &'static str,
}

/// Register an endpoint for station health events
/// (`station.anomaly_detected` once per anomaly, and the extension
/// `station.anomaly_resolved` once when its episode is over). Deliveries are signed per Standard
/// Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with
/// the returned secret, retried with backoff for up to 24 h, and sent only
/// to public addresses.
#[utoipa::path(post, path = "/v1/webhooks", operation_id = "create_webhook", tag = "webhooks", request_body = WebhookCreateRequest,
    responses((status = 201, body = WebhookCreatedResponse), (status = 422, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<(StatusCode, Json<WebhookCreatedResponse>), ApiError> {
    caller.require(Scope::Admin)?;
    let request: WebhookCreateRequest = body.parse()?;
    let mut errors = ValidationErrors::default();
    if request.url.len() > 2048 {
        errors.push(FieldError::new("url", "is longer than 2048 characters"));
    }
    if let Some(auth) = &request.authorization {
        if auth.is_empty() || auth.len() > 4096 || auth.chars().any(|c| c.is_control()) {
            errors.push(FieldError::new(
                "authorization",
                "must be 1 to 4096 printable characters, e.g. \"Bearer <token>\"",
            ));
        }
    }
    if request.description.as_ref().is_some_and(|d| d.len() > 500) {
        errors.push(FieldError::new("description", "is longer than 500 characters"));
    }
    errors.into_result(())?;
    let allow_private = state.health.config().webhooks.allow_private;
    let url = evni_health::check_url(&request.url, allow_private)
        .await
        .map_err(|refused| ApiError::validation("url", refused.0))?;
    let secret = evni_health::generate_secret();
    let endpoint = state
        .engine
        .store()
        .create_webhook_endpoint(NewWebhookEndpoint {
            tenant: caller.tenant.id,
            url: url.to_string(),
            secret: secret.clone(),
            authorization: request.authorization,
            description: request.description,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookCreatedResponse {
            endpoint: endpoint.into(),
            secret,
        }),
    ))
}

/// The tenant's webhook endpoints (secrets and authorization are not shown).
#[utoipa::path(get, path = "/v1/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    responses((status = 200, body = WebhookListResponse)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<WebhookListResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let endpoints = state
        .engine
        .store()
        .list_webhook_endpoints(caller.tenant.id)
        .await?;
    Ok(Json(WebhookListResponse {
        items: endpoints.into_iter().map(Into::into).collect(),
    }))
}

/// Delete an endpoint; its pending deliveries are cancelled.
#[utoipa::path(delete, path = "/v1/webhooks/{webhook_endpoint_id}", operation_id = "delete_webhook", tag = "webhooks",
    params(("webhook_endpoint_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Admin)?;
    state
        .engine
        .store()
        .delete_webhook_endpoint(caller.tenant.id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An endpoint's deliveries, newest first, each with every attempt.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_endpoint_id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks",
    params(("webhook_endpoint_id" = String, Path), ("page" = Option<u32>, Query, minimum = 1),
        ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "max 100")),
    responses((status = 200, body = WebhookDeliveriesResponse), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<WebhookDeliveriesResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let mut params = Params::new(raw);
    let page = params.page();
    params.errors.into_result(())?;
    let page = state
        .engine
        .store()
        .webhook_deliveries(caller.tenant.id, &id, page)
        .await?;
    let time = |m: Option<i64>| m.map(micros_to_datetime);
    Ok(Json(WebhookDeliveriesResponse {
        items: page
            .items
            .into_iter()
            .map(|d| WebhookDeliveryItem {
                webhook_id: d.webhook_id,
                event: d.event,
                charging_station_id: d.station_external_id,
                status: d.status,
                attempts: d
                    .attempts
                    .into_iter()
                    .map(|a| WebhookAttemptItem {
                        attempted_at: micros_to_datetime(a.attempted_at),
                        status_code: a.status_code,
                        error: a.error,
                        duration_ms: a.duration_ms,
                    })
                    .collect(),
                next_attempt_at: time(d.next_attempt_at),
                created_at: micros_to_datetime(d.created_at),
                delivered_at: time(d.delivered_at),
                payload: d.payload,
            })
            .collect(),
        total: page.total,
        page: page.page,
        page_size: page.page_size,
    }))
}

/// Send a test event (an extension): a `webhook.test` delivery shaped like
/// `station.anomaly_detected` (station `evni-test`, `is_anomaly` false),
/// signed, retried and recorded like any delivery. Answers once it is
/// queued; its attempts appear under the endpoint's deliveries.
#[utoipa::path(post, path = "/v1/webhooks/{webhook_endpoint_id}/test", operation_id = "test_webhook", tag = "webhooks",
    params(("webhook_endpoint_id" = String, Path)),
    responses((status = 202, body = WebhookTestResponse), (status = 404, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn send_test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<WebhookTestResponse>), ApiError> {
    caller.require(Scope::Admin)?;
    let webhook_id = state.health.send_test_event(caller.tenant.id, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(WebhookTestResponse {
            webhook_id,
            event: evni_store::TEST_EVENT,
        }),
    ))
}
