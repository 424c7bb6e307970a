//! /ui/models: base and fine-tuned models with their measured metrics side
//! by side; a fine-tune started from a form (station, dates, epochs) whose
//! progress (epoch, loss) refreshes in place while it runs; activation, with
//! the fine-tuned model's false alarms and recall against its base shown
//! beside the button. Everything goes through the API's handlers.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use evni_api::json::JsonBody;
use evni_api::routes::models::{self, FineTuneStatus, ModelListItem};
use evni_api::{ApiError, AppState, Scope};
use serde::Deserialize;
use serde_json::Value;

use crate::error::UiError;
use crate::layout::{Chrome, Nav};
use crate::session::{CsrfForm, Ui};

#[derive(Template)]
#[template(path = "models.html")]
struct ModelsPage {
    chrome: Chrome,
    can_train: bool,
    can_activate: bool,
    models: Vec<ModelView>,
    base_ids: Vec<String>,
    jobs: Vec<JobView>,
    running: bool,
    form: FineTuneForm,
    errors: FormErrors,
    notice: Option<String>,
}

#[derive(Default)]
struct FormErrors {
    base_model_id: Option<String>,
    name: Option<String>,
    station_id: Option<String>,
    date_from: Option<String>,
    date_to: Option<String>,
    epochs: Option<String>,
    other: Option<String>,
}

struct ModelView {
    id: String,
    name: String,
    kind: String,
    is_base: bool,
    status: String,
    active: bool,
    precision: String,
    recall: String,
    false_alarm_rate: String,
    f1: String,
    evaluated_on: String,
    /// For an activatable fine-tuned model: its base's figures, to compare.
    comparison: Option<String>,
}

struct JobView {
    job_id: String,
    status: String,
    epoch: u64,
    epochs: u64,
    loss: String,
    result_model_id: String,
    error: String,
}

fn metric(metrics: &Option<Value>, key: &str) -> Option<f64> {
    metrics.as_ref()?.get(key)?.as_f64()
}

fn shown(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.3}")).unwrap_or_else(|| "—".into())
}

fn model_views(list: Vec<ModelListItem>, active: &[String]) -> Vec<ModelView> {
    let by_id: HashMap<String, Option<Value>> =
        list.iter().map(|m| (m.id.clone(), m.metrics.clone())).collect();
    list.into_iter()
        .map(|m| {
            // On the tenant's held-out sessions, base and fine-tuned alike
            // (the fine-tune measures both); else the base's own figures.
            let comparison = m
                .base_model
                .as_ref()
                .filter(|_| !m.is_base && m.status == "active")
                .map(|base| {
                    let details = m.metrics.as_ref().and_then(|v| v.get("details").cloned());
                    let of = |key: &str| details.as_ref().and_then(|d| d.get(key)?.as_f64());
                    let count = |v: Option<f64>| v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "—".into());
                    let base_metrics = by_id.get(base).cloned().flatten();
                    format!(
                        "On the tenant's held-out sessions: false alarms {} → {} (rate {} → {}), recall {} → {} ({base} → this model)",
                        count(of("base_false_alarms")),
                        count(of("false_alarms")),
                        shown(of("base_false_alarm_rate").or(metric(&base_metrics, "false_alarm_rate"))),
                        shown(metric(&m.metrics, "false_alarm_rate")),
                        shown(of("base_recall").or(metric(&base_metrics, "recall"))),
                        shown(metric(&m.metrics, "recall")),
                    )
                });
            ModelView {
                active: active.contains(&m.id),
                precision: shown(metric(&m.metrics, "precision")),
                recall: shown(metric(&m.metrics, "recall")),
                false_alarm_rate: shown(metric(&m.metrics, "false_alarm_rate")),
                f1: shown(metric(&m.metrics, "f1_score")),
                evaluated_on: m
                    .metrics
                    .as_ref()
                    .and_then(|v| v.get("evaluated_on"))
                    .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                    .unwrap_or_default(),
                comparison,
                id: m.id,
                name: m.name,
                kind: m.model_type,
                is_base: m.is_base,
                status: m.status,
            }
        })
        .collect()
}

fn job_view(job: FineTuneStatus) -> JobView {
    let progress = job.progress.unwrap_or(Value::Null);
    JobView {
        epoch: progress["epoch"].as_u64().unwrap_or(0),
        epochs: progress["epochs"]
            .as_u64()
            .or_else(|| job.config["epochs"].as_u64())
            .unwrap_or(0),
        loss: progress["loss"]
            .as_f64()
            .map(|l| format!("{l:.5}"))
            .unwrap_or_else(|| "—".into()),
        job_id: job.job_id,
        status: job.status,
        result_model_id: job.result_model_id.unwrap_or_default(),
        error: job.error_message.unwrap_or_default(),
    }
}

async fn render(
    state: &AppState,
    ui: &Ui,
    form: FineTuneForm,
    errors: FormErrors,
    notice: Option<String>,
) -> Result<Response, UiError> {
    let list = models::list(State(state.clone()), ui.caller.clone())
        .await?
        .0
        .models;
    let active: Vec<String> = state
        .engine
        .store()
        .active_models()
        .await?
        .into_iter()
        .filter(|a| a.tenant == ui.caller.tenant.id)
        .map(|a| a.model_id)
        .collect();
    let query = HashMap::from([("page_size".to_string(), "10".to_string())]);
    let jobs = models::list_fine_tunes(State(state.clone()), ui.caller.clone(), Query(query))
        .await?
        .0
        .items;
    let jobs: Vec<JobView> = jobs.into_iter().map(job_view).collect();
    let base_ids = list
        .iter()
        .filter(|m| m.model_type == "csar_2" && m.status == "active")
        .map(|m| m.id.clone())
        .collect();
    let page = ModelsPage {
        chrome: Chrome::new(ui, Nav::Models),
        can_train: ui.can(Scope::Write),
        can_activate: ui.can(Scope::Admin),
        models: model_views(list, &active),
        base_ids,
        running: jobs
            .iter()
            .any(|j| matches!(j.status.as_str(), "queued" | "running")),
        jobs,
        form,
        errors,
        notice,
    };
    super::render(&page)
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    started: Option<String>,
    #[serde(default)]
    activated: Option<String>,
}

/// GET /ui/models
pub async fn page(
    State(state): State<AppState>,
    ui: Ui,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, UiError> {
    let notice = match (query.started, query.activated) {
        (Some(job), _) => Some(format!("Fine-tune {job} started; its progress shows below.")),
        (_, Some(model)) => Some(format!("{model} now analyses this tenant's sessions.")),
        _ => None,
    };
    let form = FineTuneForm {
        base_model_id: "model-csar2-base".into(),
        epochs: "20".into(),
        ..FineTuneForm::default()
    };
    render(&state, &ui, form, FormErrors::default(), notice).await
}

#[derive(Deserialize, Default)]
pub struct FineTuneForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    base_model_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    station_id: String,
    #[serde(default)]
    date_from: String,
    #[serde(default)]
    date_to: String,
    #[serde(default)]
    epochs: String,
}

/// POST /ui/models/fine-tune
pub async fn fine_tune(
    State(state): State<AppState>,
    ui: Ui,
    Form(form): Form<FineTuneForm>,
) -> Result<Response, UiError> {
    ui.check_csrf(&state, form.csrf.as_deref())?;
    let optional = |v: &str| (!v.trim().is_empty()).then(|| Value::String(v.trim().to_string()));
    let mut filter = serde_json::Map::new();
    for (key, value) in [
        ("station_id", &form.station_id),
        ("date_from", &form.date_from),
        ("date_to", &form.date_to),
    ] {
        if let Some(v) = optional(value) {
            filter.insert(key.into(), v);
        }
    }
    let epochs = form.epochs.trim();
    let epochs = epochs
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(epochs.to_string()));
    let body = serde_json::json!({
        "base_model_id": form.base_model_id.trim(),
        "name": form.name.trim(),
        "data_source": {"type": "sessions", "session_filter": filter},
        "training_config": {"epochs": epochs},
    });
    let body = JsonBody(Bytes::from(body.to_string()));
    match models::fine_tune(State(state.clone()), ui.caller.clone(), body).await {
        Ok(created) => Ok(Redirect::to(&format!("/ui/models?started={}", created.0.job_id)).into_response()),
        Err(ApiError::Validation(refused)) => {
            let mut errors = FormErrors::default();
            for e in refused.errors {
                let slot = match e.field.rsplit('.').next().unwrap_or_default() {
                    "base_model_id" => &mut errors.base_model_id,
                    "name" => &mut errors.name,
                    "station_id" => &mut errors.station_id,
                    "date_from" => &mut errors.date_from,
                    "date_to" => &mut errors.date_to,
                    "epochs" => &mut errors.epochs,
                    _ => &mut errors.other,
                };
                slot.get_or_insert(e.problem);
            }
            let page = render(&state, &ui, form, errors, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// POST /ui/models/{id}/activate
pub async fn activate(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, UiError> {
    ui.check_csrf(&state, form.csrf.as_deref())?;
    let done = models::activate(State(state), ui.caller.clone(), evni_api::path::Path(id)).await?;
    Ok(Redirect::to(&format!("/ui/models?activated={}", done.0.model_id)).into_response())
}
