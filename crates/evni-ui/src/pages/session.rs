//! /ui/sessions/{session_id}: the chart, the verdict, explain and ask, and
//! the operator's feedback.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use evni_api::json::{JsonBody, OptionalBody};
use evni_api::path::Path;
use evni_api::routes::{explain, feedback};
use evni_api::{ApiError, AppState, Scope};
use evni_domain::{micros_to_datetime, Anomaly, FeedbackLabel};
use evni_engine::SessionAnalysisResponse;
use serde::Deserialize;

use crate::error::{encode_component, UiError};
use crate::layout::{Chrome, Nav};
use crate::pages::chart;
use crate::session::Ui;

#[derive(Template)]
#[template(path = "session.html")]
struct SessionPage {
    chrome: Chrome,
    session_id: String,
    /// The page's own URL, the base of its forms.
    href: String,
    station: String,
    station_href: String,
    connector: String,
    created_at: String,
    readings: usize,
    verdict: SessionAnalysisResponse,
    verdict_label: &'static str,
    verdict_class: &'static str,
    feedback: Option<&'static str>,
    anomalies: Vec<AnomalyRow>,
    chart_json: String,
    can_write: bool,
    labels: Vec<(&'static str, &'static str)>,
    /// Set after a form: a notice, an answer, problems by field.
    notice: Option<String>,
    answer: Option<(String, String)>,
    errors: HashMap<String, String>,
    question: String,
    comment: String,
}

impl SessionPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

struct AnomalyRow {
    category: &'static str,
    score: String,
    confidence: String,
    detector: &'static str,
    buckets: String,
    time: String,
}

impl From<&Anomaly> for AnomalyRow {
    fn from(a: &Anomaly) -> Self {
        let time = a
            .time_range
            .map(|t| {
                let f = |d: Option<chrono::DateTime<chrono::Utc>>| {
                    d.map(|d| d.format("%H:%M:%S").to_string())
                        .unwrap_or_else(|| "?".into())
                };
                format!("{} – {}", f(t.start_timestamp), f(t.end_timestamp))
            })
            .unwrap_or_default();
        Self {
            category: a.category.as_str(),
            score: format!("{:.2}", a.score),
            confidence: format!("{:.2}", a.confidence),
            detector: chart::detector_name(a.detector),
            buckets: format!("{}–{}", a.bucket_range.start_unit, a.bucket_range.end_unit),
            time,
        }
    }
}

/// What a form left for the page to show.
#[derive(Default)]
struct Outcome {
    notice: Option<String>,
    answer: Option<(String, String)>,
    errors: HashMap<String, String>,
    question: String,
    comment: String,
}

#[derive(Deserialize)]
pub struct PageQuery {
    feedback: Option<String>,
}

/// GET /ui/sessions/{session_id}
pub async fn page(
    State(state): State<AppState>,
    ui: Ui,
    Path(session_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, UiError> {
    let outcome = Outcome {
        notice: query
            .feedback
            .and_then(|l| FeedbackLabel::parse(&l))
            .map(|l| format!("Feedback recorded: {}.", l.as_str())),
        ..Outcome::default()
    };
    render(&state, &ui, &session_id, outcome, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    ui: &Ui,
    session_id: &str,
    outcome: Outcome,
    status: StatusCode,
) -> Result<Response, UiError> {
    ui.caller.require(Scope::Read)?;
    // The same lookup as GET /v1/sessions/{id}: another tenant's session is not found.
    let detail = state
        .engine
        .store()
        .session_detail(ui.caller.tenant.id, session_id)
        .await
        .map_err(ApiError::from)?;
    let header = &detail.header;
    let verdict = SessionAnalysisResponse::new(&header.external_id, &detail.verdict);
    let page = SessionPage {
        chrome: Chrome::new(ui, Nav::Sessions),
        href: format!("/ui/sessions/{}", encode_component(&header.external_id)),
        session_id: header.external_id.clone(),
        station_href: format!(
            "/ui/sessions?charging_station_id={}",
            encode_component(&header.station_external_id)
        ),
        station: header.station_external_id.clone(),
        connector: header.connector_id.clone().unwrap_or_default(),
        created_at: micros_to_datetime(header.created_at)
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        readings: detail.readings.len(),
        verdict_label: super::verdict_words(verdict.is_anomaly).0,
        verdict_class: super::verdict_words(verdict.is_anomaly).1,
        feedback: header.feedback.map(FeedbackLabel::as_str),
        anomalies: verdict.anomalies.iter().map(AnomalyRow::from).collect(),
        chart_json: chart::embeddable_json(&chart::chart(&detail.readings, &verdict.anomalies)),
        verdict,
        can_write: ui.can(Scope::Write),
        labels: vec![
            ("incident", "Incident"),
            ("false_positive", "False positive"),
            ("normal", "Normal"),
        ],
        notice: outcome.notice,
        answer: outcome.answer,
        errors: outcome.errors,
        question: outcome.question,
        comment: outcome.comment,
    };
    Ok((status, super::render(&page)?).into_response())
}

#[derive(Deserialize)]
pub struct FeedbackForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

/// POST /ui/sessions/{session_id}/feedback: the API's feedback call.
pub async fn feedback(
    State(state): State<AppState>,
    ui: Ui,
    Path(session_id): Path<String>,
    Form(form): Form<FeedbackForm>,
) -> Result<Response, UiError> {
    ui.check_csrf(&state, form.csrf.as_deref())?;
    let comment = form.comment.filter(|c| !c.trim().is_empty());
    let body = serde_json::json!({ "label": form.label, "comment": comment });
    let body = JsonBody(Bytes::from(body.to_string()));
    match feedback::create(
        State(state.clone()),
        ui.caller.clone(),
        Path(session_id.clone()),
        body,
    )
    .await
    {
        Ok(done) => {
            let target = format!(
                "/ui/sessions/{}?feedback={}#feedback",
                encode_component(&session_id),
                done.0.label.as_str()
            );
            Ok(Redirect::to(&target).into_response())
        }
        Err(ApiError::Validation(errors)) => {
            let outcome = Outcome {
                errors: errors.errors.into_iter().map(|e| (e.field, e.problem)).collect(),
                comment: comment.unwrap_or_default(),
                ..Outcome::default()
            };
            render(
                &state,
                &ui,
                &session_id,
                outcome,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct AskForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    question: Option<String>,
    /// `explain` asks for the explanation of the verdict instead.
    #[serde(default)]
    intent: Option<String>,
}

/// POST /ui/sessions/{session_id}/ask: the API's explain or ask call.
pub async fn ask(
    State(state): State<AppState>,
    ui: Ui,
    Path(session_id): Path<String>,
    Form(form): Form<AskForm>,
) -> Result<Response, UiError> {
    ui.check_csrf(&state, form.csrf.as_deref())?;
    let path = Path(session_id.clone());
    let answered = if form.intent.as_deref() == Some("explain") {
        explain::explain(
            State(state.clone()),
            ui.caller.clone(),
            path,
            OptionalBody(Bytes::new()),
        )
        .await
        .map(|r| ("Why this verdict?".to_string(), r.0.explanation))
    } else {
        let body = serde_json::json!({ "question": form.question });
        explain::ask(
            State(state.clone()),
            ui.caller.clone(),
            path,
            JsonBody(Bytes::from(body.to_string())),
        )
        .await
        .map(|r| (form.question.clone().unwrap_or_default(), r.0.answer))
    };
    let (outcome, status) = match answered {
        Ok(answer) => (
            Outcome {
                answer: Some(answer),
                ..Outcome::default()
            },
            StatusCode::OK,
        ),
        Err(ApiError::Validation(errors)) => (
            Outcome {
                errors: errors.errors.into_iter().map(|e| (e.field, e.problem)).collect(),
                question: form.question.unwrap_or_default(),
                ..Outcome::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(ApiError::TooManyRequests { message, .. }) => (
            Outcome {
                errors: HashMap::from([("question".to_string(), message)]),
                question: form.question.unwrap_or_default(),
                ..Outcome::default()
            },
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(other) => return Err(other.into()),
    };
    render(&state, &ui, &session_id, outcome, status).await
}
