//! /ui/batches: the tenant's recent batches with their progress, and the
//! upload of a JSON-lines file of sessions (one session object per line, the
//! format of `evni simulate` and the dev set) as a new batch. The file goes
//! through the API's own batch path: wrapped as `{"sessions": [...]}` it is
//! parsed under the batch limits by `BatchBody` and submitted by
//! `POST /v1/sessions/batch`'s handler, so it is validated and stored exactly
//! as an API client's batch.

use std::collections::HashMap;

use askama::Template;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use evni_api::json::BatchBody;
use evni_api::routes::batch;
use evni_api::{ApiError, AppState, Scope};
use evni_domain::FieldError as ErrorDetail;
use serde::Deserialize;

use crate::error::UiError;
use crate::layout::{Chrome, Nav};
use crate::session::Ui;

#[derive(Template)]
#[template(path = "batches.html")]
struct BatchesPage {
    chrome: Chrome,
    can_upload: bool,
    rows: Vec<Row>,
    /// Whether a batch is still running: the list then refreshes itself.
    running: bool,
    error: Option<String>,
    submitted: Option<String>,
}

struct Row {
    batch_id: String,
    status: &'static str,
    total: u64,
    processed: u64,
    failed: u64,
    percent: u64,
    created_at: String,
    completed_at: String,
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    submitted: Option<String>,
}

async fn rows(state: &AppState, ui: &Ui) -> Result<Vec<Row>, UiError> {
    let list = batch::list(State(state.clone()), ui.caller.clone(), Query(HashMap::new()))
        .await?
        .0;
    Ok(list
        .items
        .into_iter()
        .map(|b| Row {
            percent: (b.processed_sessions * 100)
                .checked_div(b.total_sessions)
                .unwrap_or(0),
            batch_id: b.batch_id,
            status: b.status,
            total: b.total_sessions,
            processed: b.processed_sessions,
            failed: b.failed_sessions,
            created_at: b.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            completed_at: b
                .completed_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default(),
        })
        .collect())
}

async fn render(
    state: &AppState,
    ui: &Ui,
    error: Option<String>,
    submitted: Option<String>,
) -> Result<Response, UiError> {
    let rows = rows(state, ui).await?;
    let page = BatchesPage {
        chrome: Chrome::new(ui, Nav::Batches),
        can_upload: ui.can(Scope::Write),
        running: rows.iter().any(|r| matches!(r.status, "pending" | "processing")),
        rows,
        error,
        submitted,
    };
    super::render(&page)
}

/// GET /ui/batches
pub async fn page(
    State(state): State<AppState>,
    ui: Ui,
    Query(query): Query<PageQuery>,
) -> Result<Response, UiError> {
    render(&state, &ui, None, query.submitted).await
}

/// POST /ui/batches (multipart: `csrf`, `file`)
pub async fn upload(State(state): State<AppState>, ui: Ui, mut form: Multipart) -> Result<Response, UiError> {
    let mut csrf = None;
    let mut file = None;
    while let Some(field) = form.next_field().await.map_err(bad_form)? {
        match field.name() {
            Some("csrf") => csrf = Some(field.text().await.map_err(bad_form)?),
            Some("file") => file = Some(field.bytes().await.map_err(bad_form)?),
            _ => {}
        }
    }
    ui.check_csrf(&state, csrf.as_deref())?;
    ui.caller.require(Scope::Write)?;
    let refused = |problem: String| async {
        let page = render(&state, &ui, Some(problem), None).await?;
        Ok::<_, UiError>((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    let file = file.unwrap_or_default();
    let body = match wrap_lines(&file) {
        Ok(body) => body,
        Err(problem) => return refused(problem).await,
    };
    let request = Request::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    let submitted = match BatchBody::from_request(request, &state).await {
        Ok(parsed) => batch::submit(State(state.clone()), ui.caller.clone(), parsed).await,
        Err(e) => Err(e),
    };
    match submitted {
        Ok(done) => Ok(Redirect::to(&format!("/ui/batches?submitted={}", done.0.batch_id)).into_response()),
        Err(ApiError::Validation(errors)) => refused(describe(&errors.errors)).await,
        Err(ApiError::MalformedJson(message)) => refused(message).await,
        Err(ApiError::PayloadTooLarge(message)) => refused(message).await,
        Err(other) => Err(other.into()),
    }
}

fn bad_form(e: axum::extract::multipart::MultipartError) -> UiError {
    UiError::Api(ApiError::validation("file", e.body_text()))
}

/// `{"sessions": [line, ...]}` from a JSON-lines file; blank lines are
/// skipped, a line that is no JSON is named.
fn wrap_lines(file: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(file).map_err(|_| "is not UTF-8 text".to_string())?;
    let mut body = Vec::with_capacity(file.len() + 16);
    body.extend_from_slice(b"{\"sessions\":[");
    let mut count = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if serde_json::from_str::<serde::de::IgnoredAny>(line).is_err() {
            return Err(format!("line {}: is not one JSON value", n + 1));
        }
        if count > 0 {
            body.push(b',');
        }
        body.extend_from_slice(line.as_bytes());
        count += 1;
    }
    if count == 0 {
        return Err("has no sessions: choose a file with one session object per line".into());
    }
    body.extend_from_slice(b"]}");
    Ok(body)
}

/// The API's errors in the file's terms: `sessions[3].x` is line 4's `x`
/// (counting non-blank lines).
fn describe(errors: &[ErrorDetail]) -> String {
    errors
        .iter()
        .take(5)
        .map(|e| {
            let field = e.field.strip_prefix("sessions[").and_then(|rest| {
                let (index, path) = rest.split_once(']')?;
                let line = index.parse::<usize>().ok()? + 1;
                Some(format!("session {line}{path}"))
            });
            format!("{}: {}", field.unwrap_or_else(|| e.field.clone()), e.problem)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
