//! /ui/settings: the tenant's anomaly threshold and time zone, changed by
//! admins through the API's own PATCH /v1/settings handler.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use evni_api::json::JsonBody;
use evni_api::routes::settings;
use evni_api::{ApiError, AppState, Scope};
use serde::Deserialize;
use serde_json::Value;

use crate::error::UiError;
use crate::layout::{Chrome, Nav};
use crate::session::Ui;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    threshold: String,
    time_zone: String,
    can_change: bool,
    /// The API's complaint about the threshold, and about the zone.
    threshold_error: Option<String>,
    time_zone_error: Option<String>,
    saved: bool,
}

#[derive(Deserialize)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// GET /ui/settings
pub async fn page(
    ui: Ui,
    axum::extract::Query(query): axum::extract::Query<SavedQuery>,
) -> Result<Response, UiError> {
    let current = settings::get(ui.caller.clone()).await?.0;
    let page = SettingsPage {
        chrome: Chrome::new(&ui, Nav::Settings),
        threshold: current.anomaly_threshold.to_string(),
        time_zone: current.time_zone,
        can_change: ui.can(Scope::Admin),
        threshold_error: None,
        time_zone_error: None,
        saved: query.saved.is_some(),
    };
    super::render(&page)
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    anomaly_threshold: String,
    #[serde(default)]
    time_zone: String,
}

/// POST /ui/settings
pub async fn save(
    State(state): State<AppState>,
    ui: Ui,
    Form(form): Form<SettingsForm>,
) -> Result<Response, UiError> {
    ui.check_csrf(&state, form.csrf.as_deref())?;
    let raw = form.anomaly_threshold.trim();
    // A number goes to the API as a number; anything else as typed, for the
    // API to refuse with its own message.
    let value = raw
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .and_then(|v| serde_json::Number::from_f64(v).map(Value::Number))
        .unwrap_or_else(|| Value::String(raw.to_string()));
    // An empty zone field leaves the zone as it is.
    let zone = form.time_zone.trim();
    let mut patch = serde_json::json!({ "anomaly_threshold": value });
    if !zone.is_empty() {
        patch["time_zone"] = zone.into();
    }
    let body = JsonBody(Bytes::from(patch.to_string()));
    match settings::patch(State(state), ui.caller.clone(), body).await {
        Ok(_) => Ok(Redirect::to("/ui/settings?saved=1").into_response()),
        Err(ApiError::Validation(errors)) => {
            let problem = |field: &str| {
                errors
                    .errors
                    .iter()
                    .find(|e| e.field == field)
                    .map(|e| e.problem.clone())
            };
            let page = SettingsPage {
                chrome: Chrome::new(&ui, Nav::Settings),
                threshold: raw.to_string(),
                time_zone: zone.to_string(),
                can_change: ui.can(Scope::Admin),
                threshold_error: problem("anomaly_threshold"),
                time_zone_error: problem("time_zone"),
                saved: false,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, super::render(&page)?).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
