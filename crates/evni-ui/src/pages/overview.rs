//! /ui/: the tenant's statistics and its latest anomalous sessions.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use evni_api::dto::{SessionListItem, StatisticsResponse};
use evni_api::routes::{sessions, stations};
use evni_api::AppState;

use crate::error::UiError;
use crate::layout::{Chrome, Nav};
use crate::pages::sessions::Row;
use crate::session::Ui;

/// Anomalous sessions listed on the overview.
const LATEST_ANOMALIES: &str = "10";

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    stats: StatisticsResponse,
    anomaly_percent: String,
    latest: Vec<Row>,
}

/// GET /ui/
pub async fn page(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    let stats = stations::statistics(State(state.clone()), ui.caller.clone())
        .await?
        .0;
    let query = HashMap::from([
        ("is_anomaly".to_string(), "true".to_string()),
        ("page_size".to_string(), LATEST_ANOMALIES.to_string()),
    ]);
    let latest = sessions::list(State(state), ui.caller.clone(), Query(query))
        .await?
        .0;
    let page = OverviewPage {
        chrome: Chrome::new(&ui, Nav::Overview),
        anomaly_percent: format!("{:.1} %", stats.anomaly_rate * 100.0),
        stats,
        latest: latest
            .items
            .into_iter()
            .map(|item: SessionListItem| Row::from(item))
            .collect(),
    };
    super::render(&page)
}
