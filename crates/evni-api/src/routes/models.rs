//! /v1/models: the model registry (base models and the caller's own),
//! fine-tuning jobs, training uploads and activation.

use std::collections::HashMap;

use axum::extract::{FromRequest, Request, State};
use axum::http::header;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use evni_domain::{micros_to_datetime, FieldError, ValidationErrors};
use evni_store::{BatchSession, FineTuneRecord, ModelRecord, NewFineTune};
use serde::{Deserialize, Serialize};
use std::io::BufRead;
use utoipa::{OpenApi, ToSchema};

use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ErrorBody};
use crate::json::JsonBody;
use crate::path::Path;
use crate::query::Params;
use crate::requests::{self, BatchIn, CreateSessionIn};
use crate::{AppState, Limits};

const MAX_NAME_CHARS: usize = 128;
const MAX_ATTEMPTS: u32 = 3;
pub const EPOCHS: (usize, usize) = (1, 200);
pub const LEARNING_RATE: (f64, f64) = (1e-6, 0.1);
pub const BATCH_SIZE: (usize, usize) = (8, 1024);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/models", get(list))
        .route("/v1/models/uploads", post(upload))
        .route("/v1/models/fine-tune", get(list_fine_tunes).post(fine_tune))
        .route("/v1/models/fine-tune/{job_id}", get(fine_tune_status))
        .route("/v1/models/{model_id}", get(detail))
        .route("/v1/models/{model_id}/activate", post(activate))
}

#[derive(OpenApi)]
#[openapi(
    paths(list, detail, fine_tune, list_fine_tunes, fine_tune_status, upload, activate),
    tags((name = "models"))
)]
pub struct ModelsDoc;

#[derive(Serialize, ToSchema)]
pub struct ModelListItem {
    pub id: String,
    pub name: String,
    /// "csar_2" | "csar_c_2" | "shade"
    #[serde(rename = "type")]
    pub model_type: String,
    pub version: String,
    pub is_base: bool,
    pub base_model: Option<String>,
    /// Measured on held-out data at training time.
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<serde_json::Value>,
    /// "active" | "training" | "archived"
    pub status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelListItem>,
}

#[derive(Serialize, ToSchema)]
pub struct ModelDetail {
    #[serde(flatten)]
    pub item: ModelListItem,
    /// Object path of the weights in the object store.
    pub s3_path: Option<String>,
    pub description: Option<String>,
}

fn item(m: ModelRecord) -> (ModelListItem, Option<String>, Option<String>) {
    (
        ModelListItem {
            id: m.id,
            name: m.name,
            model_type: m.model_type,
            version: m.version,
            is_base: m.is_base,
            base_model: m.base_model,
            metrics: m.metrics,
            status: m.status,
            created_at: micros_to_datetime(m.created_at),
        },
        m.s3_path,
        m.description,
    )
}

/// Base models and the caller's fine-tuned models.
#[utoipa::path(get, path = "/v1/models", operation_id = "list_models", tag = "models",
    responses((status = 200, body = ModelList)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<ModelList>, ApiError> {
    caller.require(Scope::Read)?;
    state.models.ensure_base().await?;
    let models = state.engine.store().list_models(caller.tenant.id).await?;
    Ok(Json(ModelList {
        models: models.into_iter().map(|m| item(m).0).collect(),
    }))
}

/// One model: version, measured metrics, artifact path, status.
#[utoipa::path(get, path = "/v1/models/{model_id}", operation_id = "get_model", tag = "models", params(("model_id" = String, Path)),
    responses((status = 200, body = ModelDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(model_id): Path<String>,
) -> Result<Json<ModelDetail>, ApiError> {
    caller.require(Scope::Read)?;
    state.models.ensure_base().await?;
    let model = find_model(&state, &caller, &model_id).await?;
    let (item, s3_path, description) = item(model);
    Ok(Json(ModelDetail {
        item,
        s3_path,
        description,
    }))
}

async fn find_model(state: &AppState, caller: &Caller, id: &str) -> Result<ModelRecord, ApiError> {
    state
        .engine
        .store()
        .model(caller.tenant.id, id)
        .await
        .map_err(ApiError::from)
}

#[derive(Serialize, ToSchema)]
pub struct ActivateResponse {
    pub model_id: String,
    #[serde(rename = "type")]
    pub model_type: String,
    /// Sessions of this tenant analysed from now on use this model.
    pub active: bool,
}

/// Makes a model the one of its type that analyses the caller's sessions
/// (admin scope). Activating the base model goes back to it.
#[utoipa::path(post, path = "/v1/models/{model_id}/activate", operation_id = "activate_model", tag = "models", params(("model_id" = String, Path)),
    responses((status = 200, body = ActivateResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Path(model_id): Path<String>,
) -> Result<Json<ActivateResponse>, ApiError> {
    caller.require(Scope::Admin)?;
    state.models.ensure_base().await?;
    let model = find_model(&state, &caller, &model_id).await?;
    if model.model_type != evni_models::csar2::NAME {
        return Err(ApiError::Conflict(format!(
            "only csar_2 models can be activated; '{model_id}' is {}",
            model.model_type
        )));
    }
    if model.status != "active" {
        return Err(ApiError::Conflict(format!(
            "model '{model_id}' is {}, not active",
            model.status
        )));
    }
    // Loads it once now, so a broken artifact is refused here.
    state
        .models
        .load(caller.tenant.id, &model.id)
        .await
        .map_err(|e| ApiError::Internal(format!("loading model '{model_id}': {e}")))?;
    let active = state
        .engine
        .store()
        .activate_model(caller.tenant.id, &model.id)
        .await?;
    state.models.invalidate();
    Ok(Json(ActivateResponse {
        model_id: active.model_id,
        model_type: active.model_type,
        active: true,
    }))
}

// ---- uploads

#[derive(Serialize, ToSchema)]
pub struct UploadResponse {
    /// Pass as `data_source.upload_id` of a fine-tune.
    pub upload_id: String,
    pub sessions: usize,
    pub created_at: DateTime<Utc>,
}

/// A JSON-lines body (`application/x-ndjson`, `application/jsonl` or
/// `application/json`), parsed line by line as it streams in: the count of
/// sessions is checked as they come, so a hostile body stops at the limit.
pub struct LinesBody(pub Vec<CreateSessionIn<'static>>, pub ValidationErrors);

impl FromRequest<AppState> for LinesBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !matches!(
            essence,
            "application/x-ndjson" | "application/jsonl" | "application/json-lines" | "application/json"
        ) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "expected Content-Type: application/x-ndjson (one session per line), got '{content_type}'"
            )));
        }
        let limits = state.limits;
        crate::json::check_length(&req, limits.max_batch_body_bytes)?;
        crate::body::parse_streaming(
            req.into_body(),
            limits.max_batch_body_bytes,
            limits.body_grace,
            move |reader| parse_lines(reader, &limits),
        )
        .await
    }
}

/// One session per line; errors name the line.
fn parse_lines(reader: &mut dyn std::io::BufRead, limits: &Limits) -> Result<LinesBody, ApiError> {
    let mut sessions = Vec::new();
    let mut errors = ValidationErrors::default();
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        // A line is at most one POST /v1/sessions body.
        let read = std::io::Read::take(&mut *reader, limits.max_body_bytes as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(crate::body::io_error)?;
        if read == 0 {
            break;
        }
        if line.len() > limits.max_body_bytes {
            return Err(ApiError::PayloadTooLarge(format!(
                "line {number} exceeds the limit of {} bytes per session",
                limits.max_body_bytes
            )));
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if sessions.len() + errors.errors.len() + errors.omitted >= limits.max_batch_sessions {
            return Err(ApiError::PayloadTooLarge(format!(
                "the upload holds more than {0} sessions; the limit is {0}",
                limits.max_batch_sessions
            )));
        }
        let parsed = crate::body::with_limits(usize::MAX, limits.max_meter_values, || {
            crate::json::parse_json_reader::<CreateSessionIn<'static>>(&mut &line[..])
        });
        match parsed {
            Ok(s) => sessions.push(s),
            Err(ApiError::Validation(e)) => errors.extend(
                e.errors
                    .into_iter()
                    .map(|f| FieldError::new(format!("line {number}: {}", f.field), f.problem)),
            ),
            Err(ApiError::PayloadTooLarge(m)) => {
                return Err(ApiError::PayloadTooLarge(format!("line {number}: {m}")))
            }
            Err(_) => errors.push(FieldError::new(format!("line {number}"), "is not valid JSON")),
        }
    }
    Ok(LinesBody(sessions, errors))
}

/// Uploads training sessions: one POST /v1/sessions body per line. Every
/// line is validated; a 422 names the failing ones (`sessions[i]` is line i + 1).
#[utoipa::path(post, path = "/v1/models/uploads", operation_id = "upload_training_sessions", tag = "models",
    request_body(content = Vec<crate::dto::SessionCreateRequest>, content_type = "application/x-ndjson",
        description = "NDJSON: one session per line, each a POST /v1/sessions body (the items of this \
            schema, one per line; not a JSON array). Also accepted as application/jsonl, \
            application/json-lines or application/json."),
    responses((status = 200, body = UploadResponse), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody, description = "The Content-Type is not NDJSON"),
        (status = 422, body = ErrorBody, description = "A line is not a valid session; `details` names `line N: field`")),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    LinesBody(sessions, errors): LinesBody,
) -> Result<Json<UploadResponse>, ApiError> {
    caller.require(Scope::Write)?;
    errors.into_result(())?;
    let now = Utc::now().timestamp_micros();
    let valid = requests::batch_sessions(
        BatchIn {
            sessions: Some(sessions),
        },
        &state.limits,
        now,
    )?;
    let count = valid.len();
    let mut lines = Vec::new();
    for (id, s) in valid {
        let session = BatchSession {
            session_id: id.into_string(),
            station: s.station.into_string(),
            connector_id: s.connector_id.map(|c| c.into_string()),
            evse_id: s.evse_id.map(|e| e.into_string()),
            metadata: s.metadata,
            readings: s.readings,
        };
        serde_json::to_writer(&mut lines, &session).map_err(|e| ApiError::Internal(e.to_string()))?;
        lines.push(b'\n');
    }
    let upload_id = format!("upl-{}", uuid::Uuid::now_v7().simple());
    state
        .models
        .objects()
        .put(&upload_path(caller.tenant.id, &upload_id), lines)
        .await?;
    Ok(Json(UploadResponse {
        upload_id,
        sessions: count,
        created_at: micros_to_datetime(now),
    }))
}

/// Where an upload lives; the tenant in the path keeps uploads apart.
pub fn upload_path(tenant: evni_store::TenantId, upload_id: &str) -> String {
    evni_store::objects::upload_path(tenant, upload_id)
}

// ---- fine-tuning

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FineTuneRequest {
    /// A csar_2 model of GET /v1/models.
    #[schema(value_type = String, required = true, min_length = 1)]
    pub base_model_id: Option<String>,
    /// 1 to 128 characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 128)]
    pub name: Option<String>,
    pub data_source: Option<DataSourceIn>,
    pub training_config: Option<TrainingConfigIn>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSourceIn {
    /// "sessions" | "upload"
    #[serde(rename = "type")]
    pub source_type: Option<String>,
    pub session_filter: Option<SessionFilterIn>,
    /// With `type: upload`: the id returned by POST /v1/models/uploads.
    pub upload_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionFilterIn {
    pub station_id: Option<String>,
    /// ISO 8601 date or date-time: sessions starting at or after.
    pub date_from: Option<String>,
    /// ISO 8601 date (inclusive) or date-time (exclusive).
    pub date_to: Option<String>,
    pub is_anomaly: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfigIn {
    /// 1 to 200 (default 20).
    pub epochs: Option<serde_json::Value>,
    /// 0.000001 to 0.1 (default 0.001).
    pub learning_rate: Option<serde_json::Value>,
    /// 8 to 1024 (default 64).
    pub batch_size: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct FineTuneCreated {
    pub job_id: String,
    /// "queued" | "running" | "completed" | "failed"
    pub status: String,
    pub base_model_id: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct FineTuneStatus {
    pub job_id: String,
    /// "queued" | "running" | "completed" | "failed"
    pub status: String,
    pub base_model_id: String,
    pub result_model_id: Option<String>,
    /// Training configuration used, with the data source.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
    /// `{epoch, epochs, loss}` once training has started.
    #[schema(value_type = Option<Object>)]
    pub progress: Option<serde_json::Value>,
}

/// Starts fine-tuning CSAR-2 on the caller's sessions or an upload; poll
/// GET /v1/models/fine-tune/{job_id}.
#[utoipa::path(post, path = "/v1/models/fine-tune", operation_id = "create_fine_tune", tag = "models", request_body = FineTuneRequest,
    responses((status = 200, body = FineTuneCreated), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn fine_tune(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<Json<FineTuneCreated>, ApiError> {
    caller.require(Scope::Write)?;
    state.models.ensure_base().await?;
    let request: FineTuneRequest = body.parse()?;
    let mut errors = ValidationErrors::default();
    let base_model_id = match request.base_model_id.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new("base_model_id", "is required"));
            None
        }
        Some(id) => match state.engine.store().model(caller.tenant.id, id).await {
            Ok(m) if m.model_type == evni_models::csar2::NAME && m.status == "active" => Some(m.id),
            Ok(m) => {
                errors.push(FieldError::new(
                    "base_model_id",
                    format!(
                        "'{id}' is a {} model; fine-tuning starts from a csar_2 model",
                        m.model_type
                    ),
                ));
                None
            }
            Err(e) if e.is_not_found() => {
                errors.push(FieldError::new("base_model_id", format!("no model '{id}'")));
                None
            }
            Err(e) => return Err(e.into()),
        },
    };
    let name = match request.name.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new("name", "is required"));
            None
        }
        Some(n) if n.chars().count() > MAX_NAME_CHARS => {
            errors.push(FieldError::new(
                "name",
                format!("is longer than {MAX_NAME_CHARS} characters"),
            ));
            None
        }
        Some(n) => Some(n.to_string()),
    };
    let data_source = data_source(&state, &caller, request.data_source, &mut errors).await?;
    let training = training_config(request.training_config, &mut errors);
    let (Some(base_model_id), Some(name), Some(data_source), true) =
        (base_model_id, name, data_source, errors.is_empty())
    else {
        return Err(errors.into());
    };
    let record = state
        .engine
        .store()
        .create_fine_tune(NewFineTune {
            tenant: caller.tenant.id,
            base_model_id,
            name,
            config: serde_json::json!({ "data_source": data_source, "training_config": training }),
            max_attempts: MAX_ATTEMPTS,
        })
        .await?;
    state.engine.jobs_enqueued.notify_waiters();
    Ok(Json(FineTuneCreated {
        job_id: record.id,
        status: record.status,
        base_model_id: record.base_model_id,
        created_at: micros_to_datetime(record.created_at),
    }))
}

/// The data source with dates as RFC 3339 instants (date_to exclusive).
async fn data_source(
    state: &AppState,
    caller: &Caller,
    source: Option<DataSourceIn>,
    errors: &mut ValidationErrors,
) -> Result<Option<serde_json::Value>, ApiError> {
    let Some(source) = source else {
        errors.push(FieldError::new("data_source", "is required"));
        return Ok(None);
    };
    match source.source_type.as_deref() {
        Some("sessions") => {
            let filter = source.session_filter.unwrap_or(SessionFilterIn {
                station_id: None,
                date_from: None,
                date_to: None,
                is_anomaly: None,
            });
            let mut raw = HashMap::new();
            let from_key = "data_source.session_filter.date_from";
            let to_key = "data_source.session_filter.date_to";
            if let Some(v) = filter.date_from {
                raw.insert(from_key.to_string(), v);
            }
            if let Some(v) = filter.date_to {
                raw.insert(to_key.to_string(), v);
            }
            let mut params = Params::new(raw);
            let from = params.instant(from_key, false);
            let to = params.instant(to_key, true);
            errors.extend(params.errors.errors);
            if let (Some(f), Some(t)) = (from, to) {
                if f >= t {
                    errors.push(FieldError::new(to_key, "must be after date_from"));
                }
            }
            let rfc = |t: Option<i64>| {
                t.map(|t| micros_to_datetime(t).to_rfc3339_opts(SecondsFormat::Micros, true))
            };
            Ok(Some(serde_json::json!({
                "type": "sessions",
                "session_filter": {
                    "station_id": filter.station_id,
                    "date_from": rfc(from),
                    "date_to": rfc(to),
                    "is_anomaly": filter.is_anomaly,
                }
            })))
        }
        Some("upload") => {
            let Some(upload_id) = source.upload_id.filter(|u| !u.trim().is_empty()) else {
                errors.push(FieldError::new(
                    "data_source.upload_id",
                    "is required with type 'upload'",
                ));
                return Ok(None);
            };
            let path = upload_path(caller.tenant.id, &upload_id);
            let known = !upload_id.contains('/') && state.models.objects().get(&path).await.is_ok();
            if !known {
                errors.push(FieldError::new(
                    "data_source.upload_id",
                    format!("no upload '{upload_id}' (POST /v1/models/uploads first)"),
                ));
                return Ok(None);
            }
            Ok(Some(
                serde_json::json!({ "type": "upload", "upload_id": upload_id }),
            ))
        }
        Some(other) => {
            errors.push(FieldError::new(
                "data_source.type",
                format!("'{other}' is not one of 'sessions', 'upload'"),
            ));
            Ok(None)
        }
        None => {
            errors.push(FieldError::new(
                "data_source.type",
                "is required ('sessions' or 'upload')",
            ));
            Ok(None)
        }
    }
}

fn training_config(config: Option<TrainingConfigIn>, errors: &mut ValidationErrors) -> serde_json::Value {
    let config = config.unwrap_or(TrainingConfigIn {
        epochs: None,
        learning_rate: None,
        batch_size: None,
    });
    let integer = |value: Option<serde_json::Value>,
                   field: &str,
                   (lo, hi): (usize, usize),
                   default: usize,
                   errors: &mut ValidationErrors| match value {
        None | Some(serde_json::Value::Null) => default,
        Some(v) => match v.as_u64().map(|n| n as usize) {
            Some(n) if (lo..=hi).contains(&n) => n,
            _ => {
                errors.push(FieldError::new(
                    format!("training_config.{field}"),
                    format!("must be an integer from {lo} to {hi}, not {v}"),
                ));
                default
            }
        },
    };
    let epochs = integer(config.epochs, "epochs", EPOCHS, 20, errors);
    let learning_rate = match config.learning_rate {
        None | Some(serde_json::Value::Null) => 1e-3,
        Some(v) => match v.as_f64() {
            Some(x) if (LEARNING_RATE.0..=LEARNING_RATE.1).contains(&x) => x,
            _ => {
                errors.push(FieldError::new(
                    "training_config.learning_rate",
                    format!(
                        "must be a number from {} to {}, not {v}",
                        LEARNING_RATE.0, LEARNING_RATE.1
                    ),
                ));
                1e-3
            }
        },
    };
    let batch_size = integer(config.batch_size, "batch_size", BATCH_SIZE, 64, errors);
    serde_json::json!({ "epochs": epochs, "learning_rate": learning_rate, "batch_size": batch_size })
}

/// Fine-tune progress and, once completed, the resulting model id.
#[utoipa::path(get, path = "/v1/models/fine-tune/{job_id}", operation_id = "get_fine_tune", tag = "models", params(("job_id" = String, Path)),
    responses((status = 200, body = FineTuneStatus), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn fine_tune_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
) -> Result<Json<FineTuneStatus>, ApiError> {
    caller.require(Scope::Read)?;
    let record: FineTuneRecord = state.engine.store().fine_tune(caller.tenant.id, &job_id).await?;
    Ok(Json(fine_tune_view(record)))
}

#[derive(Serialize, ToSchema)]
pub struct FineTuneListResponse {
    /// Newest first.
    pub items: Vec<FineTuneStatus>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

/// The caller's recent fine-tune jobs, newest first.
#[utoipa::path(get, path = "/v1/models/fine-tune", tag = "models", operation_id = "list_fine_tunes",
    params(("page" = Option<u32>, Query), ("page_size" = Option<u32>, Query, description = "max 100")),
    responses((status = 200, body = FineTuneListResponse), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn list_fine_tunes(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Query(raw): axum::extract::Query<HashMap<String, String>>,
) -> Result<Json<FineTuneListResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let mut params = Params::new(raw);
    let page = params.page();
    params.errors.into_result(())?;
    let page = state
        .engine
        .store()
        .list_fine_tunes(caller.tenant.id, page)
        .await?;
    Ok(Json(FineTuneListResponse {
        items: page.items.into_iter().map(fine_tune_view).collect(),
        total: page.total,
        page: page.page,
        page_size: page.page_size,
    }))
}

fn fine_tune_view(record: FineTuneRecord) -> FineTuneStatus {
    let mut config = record.config["training_config"].clone();
    if let Some(map) = config.as_object_mut() {
        map.insert("data_source".into(), record.config["data_source"].clone());
    }
    FineTuneStatus {
        job_id: record.id,
        status: record.status,
        base_model_id: record.base_model_id,
        result_model_id: record.result_model_id,
        config,
        created_at: micros_to_datetime(record.created_at),
        started_at: record.started_at.map(micros_to_datetime),
        completed_at: record.completed_at.map(micros_to_datetime),
        error_message: record.error_message,
        progress: record.progress,
    }
}
