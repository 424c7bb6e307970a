//! /v1/sessions/batch: asynchronous analysis of many sessions.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use evni_domain::micros_to_datetime;
use evni_store::{BatchSession, BatchStatus, NewBatch, PageRequest};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Caller, Scope};
use crate::dto::SessionAnalysisResponse;
use crate::error::{ApiError, ErrorBody};
use crate::json::BatchBody;
use crate::path::Path;
use crate::query::Params;
use crate::requests;
use crate::AppState;

/// Sessions per job: small enough that a retried job redoes little work.
const CHUNK_SIZE: usize = 100;
const MAX_ATTEMPTS: u32 = 5;
const DEFAULT_RESULTS_PAGE_SIZE: u32 = 100;
const MAX_RESULTS_PAGE_SIZE: u32 = 1000;

#[derive(Serialize, ToSchema)]
pub struct BatchSubmitResponse {
    pub batch_id: String,
    pub total_sessions: u64,
    /// "pending" | "processing" | "completed" | "failed"
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct BatchStatusResponse {
    pub batch_id: String,
    /// "pending" | "processing" | "completed" | "failed"
    pub status: &'static str,
    pub total_sessions: u64,
    /// Sessions handled so far, including failed ones.
    pub processed_sessions: u64,
    pub failed_sessions: u64,
    /// Results of processed sessions, in submission order, one page at a time.
    pub results: Vec<SessionAnalysisResponse>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Page of `results` (default 1).
    pub page: u32,
    /// Results per page (default 100, max 1000).
    pub page_size: u32,
}

/// Body of POST /v1/sessions/batch.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BatchRequest {
    /// 1 to 10,000 sessions, each `{session_id, charging_point_id (or charging_station_id), connector_id?,
    /// evse_id?, meter_values, metadata?}`.
    #[schema(min_items = 1, max_items = 10000)]
    sessions: Vec<crate::dto::SessionCreateRequest>,
}

/// Submit sessions for asynchronous analysis; poll the returned batch_id.
#[utoipa::path(post, path = "/v1/sessions/batch", operation_id = "submit_batch", tag = "batches", request_body = BatchRequest,
    responses((status = 200, body = BatchSubmitResponse), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    BatchBody(parsed): BatchBody,
) -> Result<Json<BatchSubmitResponse>, ApiError> {
    caller.require(Scope::Write)?;
    let now = Utc::now().timestamp_micros();
    let sessions = requests::batch_sessions(parsed, &state.limits, now)?;
    let total = sessions.len() as u64;
    let sessions = sessions
        .into_iter()
        .map(|(id, s)| BatchSession {
            session_id: id.into_string(),
            station: s.station.into_string(),
            connector_id: s.connector_id.map(|c| c.into_string()),
            evse_id: s.evse_id.map(|e| e.into_string()),
            metadata: s.metadata,
            readings: s.readings,
        })
        .collect();
    let batch = NewBatch {
        tenant: caller.tenant.id,
        sessions,
        chunk_size: CHUNK_SIZE,
        max_attempts: MAX_ATTEMPTS,
    };
    let batch_id = state.engine.store().create_batch(batch).await?;
    state.engine.jobs_enqueued.notify_waiters();
    Ok(Json(BatchSubmitResponse {
        batch_id,
        total_sessions: total,
        status: "pending",
    }))
}

/// Batch progress and results; poll until `completed` or `failed`.
#[utoipa::path(get, path = "/v1/sessions/batch/{batch_id}", operation_id = "get_batch", tag = "batches",
    params(("batch_id" = String, Path), ("page" = Option<u32>, Query, minimum = 1, description = "Results page (default 1)"),
        ("page_size" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Results per page (default 100, max 1000)")),
    responses((status = 200, body = BatchStatusResponse), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(batch_id): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<BatchStatusResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let mut params = Params::new(raw);
    let page = params.page_with(DEFAULT_RESULTS_PAGE_SIZE, MAX_RESULTS_PAGE_SIZE);
    params.errors.into_result(())?;
    let batch = state
        .engine
        .store()
        .batch_status(caller.tenant.id, &batch_id, page)
        .await?;
    let status = batch_state(&batch);
    let results = batch
        .results
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<Vec<SessionAnalysisResponse>, _>>()
        .map_err(|e| ApiError::Internal(format!("stored batch result: {e}")))?;
    let PageRequest { page, page_size } = page;
    Ok(Json(BatchStatusResponse {
        batch_id: batch.batch_id,
        status,
        total_sessions: batch.total_sessions,
        processed_sessions: batch.processed_sessions,
        failed_sessions: batch.failed_sessions,
        results,
        created_at: micros_to_datetime(batch.created_at),
        completed_at: batch.completed_at.map(micros_to_datetime),
        page,
        page_size,
    }))
}

/// "pending" | "processing" | "completed" | "failed", from the counters.
fn batch_state(batch: &BatchStatus) -> &'static str {
    match (batch.processed_sessions, batch.failed_sessions) {
        (0, _) => "pending",
        (done, failed) if done >= batch.total_sessions && failed >= batch.total_sessions => "failed",
        (done, _) if done >= batch.total_sessions => "completed",
        _ => "processing",
    }
}

#[derive(Serialize, ToSchema)]
pub struct BatchListItem {
    pub batch_id: String,
    /// "pending" | "processing" | "completed" | "failed"
    pub status: &'static str,
    pub total_sessions: u64,
    pub processed_sessions: u64,
    pub failed_sessions: u64,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchListResponse {
    /// Newest first; results are at `GET /v1/sessions/batch/{batch_id}`.
    pub items: Vec<BatchListItem>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

/// The caller's recent batches with their progress, newest first.
#[utoipa::path(get, path = "/v1/sessions/batch", tag = "batches", operation_id = "list_batches",
    params(("page" = Option<u32>, Query), ("page_size" = Option<u32>, Query, description = "max 100")),
    responses((status = 200, body = BatchListResponse), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<BatchListResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let mut params = Params::new(raw);
    let page = params.page();
    params.errors.into_result(())?;
    let page = state.engine.store().list_batches(caller.tenant.id, page).await?;
    Ok(Json(BatchListResponse {
        items: page
            .items
            .into_iter()
            .map(|batch| BatchListItem {
                status: batch_state(&batch),
                batch_id: batch.batch_id,
                total_sessions: batch.total_sessions,
                processed_sessions: batch.processed_sessions,
                failed_sessions: batch.failed_sessions,
                created_at: micros_to_datetime(batch.created_at),
                completed_at: batch.completed_at.map(micros_to_datetime),
            })
            .collect(),
        total: page.total,
        page: page.page,
        page_size: page.page_size,
    }))
}
