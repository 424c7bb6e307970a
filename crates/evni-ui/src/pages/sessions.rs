//! /ui/sessions: the sessions list with the API's filters, paged.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use evni_api::routes::sessions;
use evni_api::Scope;
use evni_api::{ApiError, AppState};
use evni_domain::AnomalyCategory;
use evni_store::{Page, SessionFilter, SessionListRow};

use crate::error::{encode_component, UiError};
use crate::layout::{Chrome, Nav};
use crate::session::Ui;

/// The filters of the form, each named as the API's query parameter.
const FILTERS: [&str; 4] = ["charging_station_id", "date_from", "date_to", "is_anomaly"];

/// The dashboard's own filter (the API's list has none by category).
const CATEGORY: &str = "category";

/// One row of a sessions table.
pub struct Row {
    pub href: String,
    pub session_id: String,
    pub station: String,
    pub station_href: String,
    /// The first reading's time (when the session was received, before it has one).
    pub started_at: String,
    pub status: &'static str,
    pub verdict: &'static str,
    pub verdict_class: &'static str,
    pub score: String,
    /// kWh delivered, empty before the session has readings.
    pub energy: String,
    pub categories: Vec<&'static str>,
}

impl From<SessionListRow> for Row {
    fn from(item: SessionListRow) -> Self {
        let started_at = item.started_at.unwrap_or(item.created_at);
        let started_at = chrono::DateTime::from_timestamp_micros(started_at).unwrap_or_default();
        Self {
            href: format!("/ui/sessions/{}", encode_component(&item.external_id)),
            station_href: format!(
                "/ui/sessions?charging_station_id={}",
                encode_component(&item.station_external_id)
            ),
            session_id: item.external_id,
            station: item.station_external_id,
            started_at: started_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            status: item.status.as_str(),
            verdict: super::verdict_words(item.is_anomaly).0,
            verdict_class: super::verdict_words(item.is_anomaly).1,
            score: item.anomaly_score.map(|s| format!("{s:.2}")).unwrap_or_default(),
            energy: item.energy_kwh.map(|e| format!("{e:.2}")).unwrap_or_default(),
            categories: item
                .categories
                .iter()
                .filter_map(|c| AnomalyCategory::parse(c).map(|c| c.as_str()))
                .collect(),
        }
    }
}

/// The tenant's sessions matching the API's query parameters plus an
/// optional category, straight from the store (the API's JSON list carries
/// neither energy nor categories).
pub async fn list(
    state: &AppState,
    ui: &Ui,
    query: HashMap<String, String>,
    category: Option<AnomalyCategory>,
) -> Result<Page<SessionListRow>, ApiError> {
    ui.caller.require(Scope::Read)?;
    let filter = SessionFilter {
        category: category.map(|c| c.as_str().to_owned()),
        ..sessions::list_filter(query)?
    };
    Ok(state
        .engine
        .store()
        .list_sessions(ui.caller.tenant.id, &filter)
        .await?)
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    chrome: Chrome,
    station: String,
    date_from: String,
    date_to: String,
    anomaly_only: bool,
    category: String,
    categories: [&'static str; AnomalyCategory::ALL.len()],
    /// Problems with the filters, by parameter name.
    errors: HashMap<String, String>,
    rows: Vec<Row>,
    total: u64,
    page: u32,
    pages: u64,
    prev: Option<String>,
    next: Option<String>,
}

impl SessionsPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

/// GET /ui/sessions
pub async fn page(
    State(state): State<AppState>,
    ui: Ui,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, UiError> {
    let value = |name: &str| raw.get(name).cloned().unwrap_or_default();
    let mut page = SessionsPage {
        chrome: Chrome::new(&ui, Nav::Sessions),
        station: value("charging_station_id"),
        date_from: value("date_from"),
        date_to: value("date_to"),
        anomaly_only: raw.get("is_anomaly").is_some_and(|v| v == "true"),
        category: value(CATEGORY),
        categories: AnomalyCategory::ALL.map(|c| c.as_str()),
        errors: HashMap::new(),
        rows: Vec::new(),
        total: 0,
        page: 1,
        pages: 1,
        prev: None,
        next: None,
    };
    // An empty field of the form means "no filter", as an absent parameter.
    let query: HashMap<String, String> = raw
        .iter()
        .filter(|(k, v)| !v.is_empty() && (FILTERS.contains(&k.as_str()) || *k == "page"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let category = match page.category.as_str() {
        "" => None,
        name => match AnomalyCategory::parse(name) {
            Some(category) => Some(category),
            None => {
                page.errors
                    .insert(CATEGORY.into(), "must be one of the anomaly categories".into());
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, super::render(&page)?).into_response());
            }
        },
    };
    match list(&state, &ui, query.clone(), category).await {
        Ok(list) => {
            page.total = list.total;
            page.page = list.page;
            page.pages = list.total.div_ceil(u64::from(list.page_size.max(1))).max(1);
            let link = |to: u32| {
                let mut params: Vec<String> = query
                    .iter()
                    .filter(|(k, _)| *k != "page")
                    .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
                    .chain(category.map(|c| format!("{CATEGORY}={}", c.as_str())))
                    .collect();
                params.sort();
                params.push(format!("page={to}"));
                format!("/ui/sessions?{}", params.join("&"))
            };
            page.prev = (list.page > 1).then(|| link(list.page - 1));
            page.next = (u64::from(list.page) < page.pages).then(|| link(list.page + 1));
            page.rows = list.items.into_iter().map(Row::from).collect();
            super::render(&page)
        }
        Err(ApiError::Validation(errors)) => {
            page.errors = errors.errors.into_iter().map(|e| (e.field, e.problem)).collect();
            Ok((StatusCode::UNPROCESSABLE_ENTITY, super::render(&page)?).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
