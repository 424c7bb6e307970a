//! POST /v1/sessions/{session_id}/explain and /ask: plain-language text
//! grounded in the session's data (evni-explain), optionally reworded by a
//! configured model. Both need `read` scope and share a per-tenant limit.

use axum::extract::State;
use axum::Json;
use evni_analysis::SessionContext;
use evni_domain::{FieldError, ValidationErrors};
use evni_explain::Input;
use evni_store::{ConnectorRow, SessionDetail};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ErrorBody};
use crate::explain::{Source, Task};
use crate::json::{parse_json, JsonBody, OptionalBody};
use crate::path::Path;
use crate::AppState;

const MAX_QUESTION_CHARS: usize = 1000;
/// Sessions with more readings than this are explained on the blocking pool.
const INLINE_READINGS: usize = 5_000;

/// Body of POST /v1/sessions/{session_id}/explain: `{}` (may be empty).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {}

#[derive(Serialize, ToSchema)]
pub struct ExplainResponse {
    pub session_id: String,
    /// What happened, where, how much, likely causes and what to do next.
    pub explanation: String,
    /// `grounded` (written by evni from the data) or `llm` (reworded by the
    /// configured model from the same facts).
    pub source: Source,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AskIn {
    #[serde(default)]
    question: Option<String>,
}

/// Body of POST /v1/sessions/{session_id}/ask.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AskRequest {
    /// A question about the session, 1 to 1000 characters, not only white space.
    #[schema(min_length = 1, max_length = 1000)]
    question: String,
}

#[derive(Serialize, ToSchema)]
pub struct AskResponse {
    pub session_id: String,
    pub answer: String,
    /// `grounded` or `llm`, as for explain.
    pub source: Source,
}

/// Explain a session's verdict in plain language.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/explain", operation_id = "explain_session", tag = "sessions",
    params(("session_id" = String, Path, description = "Client session identifier or UUID")),
    request_body(content = Option<ExplainRequest>, description = "Optional: empty or `{}`, read whatever its Content-Type"),
    responses((status = 200, body = ExplainResponse), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "Rate limit; see Retry-After")),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn explain(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
    OptionalBody(body): OptionalBody,
) -> Result<Json<ExplainResponse>, ApiError> {
    caller.require(Scope::Read)?;
    state.explain.admit(caller.tenant.id)?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        let _: ExplainRequest = parse_json(&body)?;
    }
    let session = Session::load(&state, &caller, &session_id).await?;
    let (session_id, grounded) = session.grounded(None).await?;
    let (explanation, source) = state.explain.word(Task::Explain, &grounded).await;
    Ok(Json(ExplainResponse {
        session_id,
        explanation,
        source,
    }))
}

/// Ask a question about a session; answered from its data.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/ask", operation_id = "ask_session", tag = "sessions",
    params(("session_id" = String, Path, description = "Client session identifier or UUID")),
    request_body = AskRequest,
    responses((status = 200, body = AskResponse), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "Rate limit; see Retry-After")),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn ask(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
    body: JsonBody,
) -> Result<Json<AskResponse>, ApiError> {
    caller.require(Scope::Read)?;
    state.explain.admit(caller.tenant.id)?;
    let parsed: AskIn = body.parse()?;
    let question = validate_question(parsed.question)?;
    let session = Session::load(&state, &caller, &session_id).await?;
    let (session_id, grounded) = session.grounded(Some(question.clone())).await?;
    let (answer, source) = state.explain.word(Task::Ask(&question), &grounded).await;
    Ok(Json(AskResponse {
        session_id,
        answer,
        source,
    }))
}

fn validate_question(question: Option<String>) -> Result<String, ApiError> {
    let problem = match &question {
        None => "is required",
        Some(q) if q.trim().is_empty() => "must not be empty",
        Some(q) if q.chars().count() > MAX_QUESTION_CHARS => "longer than 1000 characters",
        Some(_) => return Ok(question.unwrap_or_default().trim().to_string()),
    };
    Err(ApiError::Validation(ValidationErrors::single(FieldError::new(
        "question", problem,
    ))))
}

/// What the explainer needs, loaded from the store.
struct Session {
    detail: SessionDetail,
    station: Vec<ConnectorRow>,
    context: SessionContext,
}

impl Session {
    async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<Self, ApiError> {
        let store = state.engine.store();
        let tenant = caller.tenant.id;
        let detail = store.session_detail(tenant, id).await?;
        let station_id = detail.header.station_external_id.as_str();
        let station = match store.station_connectors(tenant, station_id).await {
            Err(e) if e.is_not_found() => Vec::new(),
            other => other?,
        };
        let rated_power_kw = match evni_engine::session_rated_power_kw(detail.header.metadata.as_ref()) {
            Some(kw) => Some(kw),
            None => {
                let metadata = store.station_metadata(tenant, station_id).await?;
                evni_engine::rated_power_kw(metadata.as_ref(), detail.header.connector_id.as_deref())
            }
        };
        Ok(Self {
            detail,
            station,
            context: SessionContext { rated_power_kw },
        })
    }

    fn input(&self) -> Input<'_> {
        Input {
            readings: &self.detail.readings,
            verdict: &self.detail.verdict,
            connector_id: self.detail.header.connector_id.as_deref(),
            context: self.context,
            station: &self.station,
        }
    }

    /// The grounded explanation, or the answer to `question`; large
    /// sessions on the blocking pool.
    async fn grounded(self, question: Option<String>) -> Result<(String, evni_explain::Grounded), ApiError> {
        let run = move |session: Session| {
            let input = session.input();
            let grounded = match &question {
                None => evni_explain::explain(&input),
                Some(q) => evni_explain::ask(&input, q),
            };
            (session.detail.header.external_id, grounded)
        };
        if self.detail.readings.len() <= INLINE_READINGS {
            return Ok(run(self));
        }
        tokio::task::spawn_blocking(move || run(self))
            .await
            .map_err(|e| ApiError::Internal(format!("explaining failed: {e}")))
    }
}
