//! POST /v1/sessions/{session_id}/feedback: operators confirm or reject a
//! verdict. Confirmation feeds `is_incident`; every label is kept for
//! fine-tuning.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use evni_domain::{ExternalId, FeedbackLabel, FieldError, ValidationErrors};
use evni_engine::Command;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ErrorBody};
use crate::json::JsonBody;
use crate::path::Path;
use crate::AppState;

const MAX_COMMENT_CHARS: usize = 2000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackIn {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

/// Body of POST /v1/sessions/{session_id}/feedback.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FeedbackRequest {
    label: FeedbackLabel,
    /// Free text, at most 2000 characters.
    #[schema(max_length = 2000)]
    comment: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FeedbackResponse {
    pub feedback_id: String,
    pub session_id: String,
    pub label: FeedbackLabel,
    pub comment: Option<String>,
    /// The session's incident flag after this feedback.
    pub is_incident: Option<bool>,
    pub created_at: DateTime<Utc>,
}

/// Record operator feedback on a session's verdict.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/feedback", operation_id = "create_feedback", tag = "sessions",
    params(("session_id" = String, Path, description = "Client session identifier")),
    request_body = FeedbackRequest,
    responses((status = 200, body = FeedbackResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The session changed concurrently; retry"),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.name))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
    body: JsonBody,
) -> Result<Json<FeedbackResponse>, ApiError> {
    caller.require(Scope::Write)?;
    let session_id =
        ExternalId::parse("session_id", &session_id).map_err(|e| ApiError::Validation(e.into()))?;
    let parsed: FeedbackIn = body.parse()?;
    let mut errors = ValidationErrors::default();
    let label = match parsed.label.as_deref() {
        None => {
            errors.push(FieldError::new("label", "is required"));
            None
        }
        Some(raw) => FeedbackLabel::parse(raw).or_else(|| {
            errors.push(
                FieldError::new("label", format!("unknown label '{raw}'"))
                    .with_accepted(FeedbackLabel::ALL.map(FeedbackLabel::as_str)),
            );
            None
        }),
    };
    if parsed
        .comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        errors.push(FieldError::new(
            "comment",
            format!("longer than {MAX_COMMENT_CHARS} characters"),
        ));
    }
    errors.into_result(())?;
    let label = label.expect("validated");
    let comment = parsed.comment;
    let command = Command::Feedback {
        label,
        comment: comment.clone(),
    };
    let session = state.engine.apply(&caller.tenant, &session_id, command).await?;
    Ok(Json(FeedbackResponse {
        feedback_id: session.feedback_id.map(|id| id.to_string()).unwrap_or_default(),
        session_id: session_id.into_string(),
        label,
        comment,
        is_incident: session.verdict.is_incident,
        created_at: Utc::now(),
    }))
}
