//! /ui/: the tenant's statistics and its latest anomalous sessions.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use evni_api::dto::StatisticsResponse;
use evni_api::routes::stations;
use evni_api::AppState;
use evni_store::PageRequest;

use crate::error::{encode_component, UiError};
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
    /// `{days, series: [{label, values}]}` for overview.js.
    by_category_json: String,
    /// Totals of the 30 days per category: the chart's reading without script.
    category_totals: Vec<(String, u64)>,
    open_stations: Vec<OpenStation>,
    network_events: Vec<NetworkEvent>,
    failing: Vec<FailingDelivery>,
}

/// A network event, from the latest network run.
struct NetworkEvent {
    period: String,
    days: String,
    status: String,
    sessions: String,
    stations: String,
}

impl NetworkEvent {
    fn of(details: &serde_json::Value) -> Self {
        let text = |key: &str| match &details[key] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "—".into(),
            other => other.to_string(),
        };
        Self {
            period: format!("{} to {}", text("affected_period"), text("last_affected_day")),
            days: text("affected_days"),
            status: text("status"),
            sessions: format!(
                "{} of {} expected",
                text("actual_sessions"),
                text("expected_sessions")
            ),
            stations: format!("{} of {}", text("stations_fallen"), text("stations_judged")),
        }
    }
}

struct OpenStation {
    href: String,
    station: String,
    kind: String,
    score: String,
    at: String,
}

struct FailingDelivery {
    url: String,
    webhook_id: String,
    station: String,
    status: String,
    last_outcome: String,
    next_attempt: String,
}

/// Days the anomaly chart covers, today included.
const CHART_DAYS: i64 = 30;
/// Stations with open health anomalies listed.
const OPEN_STATIONS: u32 = 10;
/// Deliveries looked at per webhook endpoint for failures.
const DELIVERIES_CHECKED: u32 = 20;

fn time(micros: i64) -> String {
    evni_domain::micros_to_datetime(micros)
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

/// Anomalous sessions per day and category over [`CHART_DAYS`] days:
/// the chart's JSON and the totals per category.
async fn by_category(state: &AppState, ui: &Ui) -> Result<(String, Vec<(String, u64)>), UiError> {
    // The 30 days end with the tenant's newest data (as SHADE's do), so
    // replayed or delayed history still shows; never after today.
    let today = chrono::Utc::now().timestamp_micros().div_euclid(86_400_000_000);
    let store = state.engine.store();
    let last = store
        .tenant_last_day(ui.caller.tenant.id)
        .await?
        .map_or(today, |day| day.min(today));
    let first = last - (CHART_DAYS - 1);
    let rows = store
        .anomalies_by_day(ui.caller.tenant.id, first * 86_400_000_000)
        .await?;
    let mut series: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for row in rows {
        if row.day > last {
            continue;
        }
        let index = (row.day - first).clamp(0, CHART_DAYS - 1) as usize;
        series
            .entry(row.category)
            .or_insert_with(|| vec![0; CHART_DAYS as usize])[index] += row.sessions;
    }
    let days: Vec<i64> = (first..=last).map(|d| d * 86_400).collect();
    let totals = series.iter().map(|(c, v)| (c.clone(), v.iter().sum())).collect();
    let json = serde_json::json!({
        "days": days,
        "series": series
            .into_iter()
            .map(|(label, values)| serde_json::json!({"label": label, "values": values}))
            .collect::<Vec<_>>(),
    });
    // Inside a <script> block: no closing tag can appear.
    Ok((json.to_string().replace('<', "\\u003c"), totals))
}

async fn failing_deliveries(state: &AppState, ui: &Ui) -> Result<Vec<FailingDelivery>, UiError> {
    let store = state.engine.store();
    let tenant = ui.caller.tenant.id;
    let mut failing = Vec::new();
    for endpoint in store.list_webhook_endpoints(tenant).await? {
        let page = PageRequest {
            page: 1,
            page_size: DELIVERIES_CHECKED,
        };
        for d in store.webhook_deliveries(tenant, &endpoint.id, page).await?.items {
            let last = d.attempts.last();
            let last_ok = last.is_some_and(|a| a.status_code.is_some_and(|c| (200..300).contains(&c)));
            let is_failing = d.status == "failed" || (d.status == "pending" && last.is_some() && !last_ok);
            if !is_failing {
                continue;
            }
            failing.push(FailingDelivery {
                url: endpoint.url.clone(),
                last_outcome: last
                    .map(|a| match (a.status_code, &a.error) {
                        (Some(code), _) => format!("HTTP {code}"),
                        (None, Some(e)) => e.clone(),
                        (None, None) => "no response".into(),
                    })
                    .unwrap_or_default(),
                next_attempt: d.next_attempt_at.map(time).unwrap_or_else(|| "—".into()),
                webhook_id: d.webhook_id,
                station: d.station_external_id,
                status: d.status,
            });
        }
    }
    Ok(failing)
}

/// GET /ui/
pub async fn page(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    let (by_category_json, category_totals) = by_category(&state, &ui).await?;
    let failing = failing_deliveries(&state, &ui).await?;
    let open_stations = state
        .engine
        .store()
        .open_station_anomalies(ui.caller.tenant.id, OPEN_STATIONS)
        .await?
        .into_iter()
        .map(|s| OpenStation {
            href: format!("/ui/stations/{}", encode_component(&s.station_external_id)),
            kind: serde_json::from_str::<serde_json::Value>(&s.detection_details)
                .ok()
                .and_then(|d| d["anomaly_type"].as_str().map(str::to_string))
                .unwrap_or_else(|| "—".into()),
            score: format!("{:.2}", s.anomaly_score),
            at: time(s.analyzed_at),
            station: s.station_external_id,
        })
        .collect();
    // As stored by the last run: the page does not judge.
    let network_events = state
        .engine
        .store()
        .network_health(ui.caller.tenant.id)
        .await?
        .map(|h| {
            h.events
                .iter()
                .map(|e| NetworkEvent::of(&e.detection_details))
                .collect()
        })
        .unwrap_or_default();
    let stats = stations::statistics(State(state.clone()), ui.caller.clone())
        .await?
        .0;
    let query = HashMap::from([
        ("is_anomaly".to_string(), "true".to_string()),
        ("page_size".to_string(), LATEST_ANOMALIES.to_string()),
    ]);
    let latest = super::sessions::list(&state, &ui, query, None).await?;
    let page = OverviewPage {
        chrome: Chrome::new(&ui, Nav::Overview),
        by_category_json,
        category_totals,
        open_stations,
        network_events,
        failing,
        anomaly_percent: format!("{:.1} %", stats.anomaly_rate * 100.0),
        stats,
        latest: latest.items.into_iter().map(Row::from).collect(),
    };
    super::render(&page)
}
