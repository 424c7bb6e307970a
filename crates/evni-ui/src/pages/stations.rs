//! /ui/stations and /ui/stations/{id}: stations with their anomaly counts,
//! SHADE health, connectors and SHADE anomaly history, from the API's own
//! handlers.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use evni_api::dto::{StationConnectorItem, StationListItem};
use evni_api::json::JsonBody;
use evni_api::path::Path;
use evni_api::routes::{health, stations};
use evni_api::{ApiError, AppState, Scope};

use crate::error::{encode_component, UiError};
use crate::layout::{Chrome, Nav};
use crate::session::Ui;

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

struct StationRow {
    href: String,
    station: String,
    total: u64,
    anomalous: u64,
    max_score: String,
    last_anomaly: String,
}

impl From<StationListItem> for StationRow {
    fn from(s: StationListItem) -> Self {
        Self {
            href: format!("/ui/stations/{}", encode_component(&s.external_station_id)),
            station: s.external_station_id,
            total: s.total_sessions,
            anomalous: s.anomalous_sessions,
            max_score: s.max_anomaly_score.map(|v| format!("{v:.2}")).unwrap_or_default(),
            last_anomaly: when(s.last_anomaly_at),
        }
    }
}

#[derive(Template)]
#[template(path = "stations.html")]
struct StationsPage {
    chrome: Chrome,
    rows: Vec<StationRow>,
    total: u64,
    page: u32,
    pages: u64,
    prev: Option<String>,
    next: Option<String>,
}

/// GET /ui/stations
pub async fn list(
    State(state): State<AppState>,
    ui: Ui,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, UiError> {
    let query: HashMap<String, String> = raw
        .into_iter()
        .filter(|(k, v)| k == "page" && !v.is_empty())
        .collect();
    let list = stations::list(State(state), ui.caller.clone(), Query(query))
        .await?
        .0;
    let pages = list.total.div_ceil(u64::from(list.page_size.max(1))).max(1);
    let page = StationsPage {
        chrome: Chrome::new(&ui, Nav::Stations),
        total: list.total,
        page: list.page,
        pages,
        prev: (list.page > 1).then(|| format!("/ui/stations?page={}", list.page - 1)),
        next: (u64::from(list.page) < pages).then(|| format!("/ui/stations?page={}", list.page + 1)),
        rows: list.items.into_iter().map(StationRow::from).collect(),
    };
    super::render(&page)
}

struct HistoryRow {
    analyzed_at: String,
    score: String,
    kind: String,
}

#[derive(Template)]
#[template(path = "station.html")]
struct StationPage {
    chrome: Chrome,
    station: String,
    sessions_href: String,
    total: u64,
    anomalous: u64,
    metadata: String,
    connectors: Vec<StationConnectorItem>,
    /// SHADE's latest judgement; None before its first run.
    health: Option<Health>,
    history: Vec<HistoryRow>,
    /// `{days, sessions, energy, baseline_sessions, baseline_energy}` for
    /// station.js: daily totals against SHADE's baseline.
    daily_json: String,
    /// Rated power per connector: a form for admins.
    can_edit: bool,
    metadata_action: String,
    powers: Vec<PowerField>,
    /// The station's own time zone ("" follows the tenant's), for admins.
    time_zone: String,
    time_zone_error: Option<String>,
    saved: bool,
}

/// One connector's rated power in the metadata form.
struct PowerField {
    connector: String,
    value: String,
    error: Option<String>,
}

/// The form as typed and the API's errors, keyed by connector id.
#[derive(Default)]
struct Edits {
    typed: HashMap<String, String>,
    errors: HashMap<String, String>,
    /// The time zone as typed, and the API's complaint about it.
    time_zone: Option<String>,
    time_zone_error: Option<String>,
}

struct Health {
    healthy: bool,
    score: String,
    kind: String,
    at: String,
}

fn anomaly_type(details: &serde_json::Value) -> String {
    details["anomaly_type"].as_str().unwrap_or("—").to_string()
}

#[derive(serde::Deserialize)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// GET /ui/stations/{id}
pub async fn detail(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(query): Query<SavedQuery>,
) -> Result<Response, UiError> {
    render_detail(&state, &ui, id, Edits::default(), query.saved.is_some()).await
}

async fn render_detail(
    state: &AppState,
    ui: &Ui,
    id: String,
    edits: Edits,
    saved: bool,
) -> Result<Response, UiError> {
    let state = state.clone();
    let caller = ui.caller.clone();
    let station = stations::detail(State(state.clone()), caller.clone(), Path(id.clone()))
        .await?
        .0;
    let connectors = stations::connectors(State(state.clone()), caller.clone(), Path(id.clone()))
        .await?
        .0;
    let health = match health::inference(State(state.clone()), caller.clone(), Path(id.clone())).await {
        Ok(i) => Some(Health {
            healthy: !i.0.is_anomaly,
            score: format!("{:.2}", i.0.anomaly_score),
            kind: anomaly_type(&i.0.detection_details),
            at: when(Some(i.0.analyzed_at)),
        }),
        Err(ApiError::NotFound(_)) => None,
        Err(other) => return Err(other.into()),
    };
    let history = health::anomalies(State(state.clone()), caller, Path(id), Query(HashMap::new()))
        .await?
        .0
        .items
        .into_iter()
        .map(|a| HistoryRow {
            analyzed_at: when(Some(a.analyzed_at)),
            score: format!("{:.2}", a.anomaly_score),
            kind: anomaly_type(&a.detection_details),
        })
        .collect();
    let connectors = connectors.connectors;
    let powers = connectors
        .iter()
        .map(|c| {
            let current = station.metadata.as_ref().and_then(|m| {
                m.get("connectors")?
                    .get(&c.connector_id)?
                    .get("rated_power_kw")
                    .map(|v| v.to_string())
            });
            PowerField {
                value: edits
                    .typed
                    .get(&c.connector_id)
                    .cloned()
                    .or(current)
                    .unwrap_or_default(),
                error: edits.errors.get(&c.connector_id).cloned(),
                connector: c.connector_id.clone(),
            }
        })
        .collect();
    let time_zone = edits.time_zone.clone().unwrap_or_else(|| {
        station
            .metadata
            .as_ref()
            .and_then(|m| m.get("time_zone")?.as_str().map(str::to_string))
            .unwrap_or_default()
    });
    let daily_json = daily(&state, ui, &station.external_station_id).await?;
    let page = StationPage {
        chrome: Chrome::new(ui, Nav::Stations),
        daily_json,
        can_edit: ui.can(Scope::Admin),
        metadata_action: format!(
            "/ui/stations/{}/metadata",
            encode_component(&station.external_station_id)
        ),
        powers,
        time_zone,
        time_zone_error: edits.time_zone_error,
        saved,
        sessions_href: format!(
            "/ui/sessions?charging_station_id={}",
            encode_component(&station.external_station_id)
        ),
        station: station.external_station_id,
        total: station.total_sessions,
        anomalous: station.anomalous_sessions,
        metadata: station
            .metadata
            .map(|m| serde_json::to_string_pretty(&m).unwrap_or_default())
            .unwrap_or_default(),
        connectors,
        health,
        history,
    };
    super::render(&page)
}

/// POST /ui/stations/{id}/metadata: the station's time zone (empty follows
/// the tenant's) and rated power per connector (kW; empty clears it),
/// through the API's PATCH /v1/stations/{id}. Admins only.
pub async fn save_metadata(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, UiError> {
    ui.check_csrf(&state, form.get("csrf").map(String::as_str))?;
    ui.caller.require(Scope::Admin)?;
    let typed: HashMap<String, String> = form
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("power.")?.to_string(), v.trim().to_string())))
        .collect();
    let connectors: serde_json::Map<String, serde_json::Value> = typed
        .iter()
        .map(|(connector, raw)| {
            // A number goes as a number, empty as null (cleared), anything
            // else as typed for the API to refuse in its own words.
            let power = if raw.is_empty() {
                serde_json::Value::Null
            } else {
                raw.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(serde_json::Value::Number)
                    .unwrap_or_else(|| serde_json::Value::String(raw.clone()))
            };
            (connector.clone(), serde_json::json!({ "rated_power_kw": power }))
        })
        .collect();
    // An empty zone follows the tenant's.
    let typed_zone = form.get("time_zone").map(|z| z.trim().to_string());
    let mut metadata = serde_json::Map::new();
    if let Some(zone) = &typed_zone {
        let zone = if zone.is_empty() {
            serde_json::Value::Null
        } else {
            zone.clone().into()
        };
        metadata.insert("time_zone".into(), zone);
    }
    if !connectors.is_empty() {
        metadata.insert("connectors".into(), connectors.into());
    }
    let body = serde_json::json!({ "metadata": metadata });
    let body = JsonBody(Bytes::from(body.to_string()));
    match stations::patch(State(state.clone()), ui.caller.clone(), Path(id.clone()), body).await {
        Ok(_) => Ok(Redirect::to(&format!("/ui/stations/{}?saved=1", encode_component(&id))).into_response()),
        Err(ApiError::Validation(refused)) => {
            let time_zone_error = refused
                .errors
                .iter()
                .find(|e| e.field == "metadata.time_zone")
                .map(|e| e.problem.clone());
            let errors = refused
                .errors
                .into_iter()
                .filter_map(|e| {
                    let connector = e
                        .field
                        .strip_prefix("metadata.connectors.")?
                        .trim_end_matches(".rated_power_kw")
                        .to_string();
                    Some((connector, e.problem))
                })
                .collect();
            let edits = Edits {
                typed,
                errors,
                time_zone: typed_zone,
                time_zone_error,
            };
            let page = render_detail(&state, &ui, id, edits, false).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// Days of the station chart, ending with the tenant's newest data.
const DAILY_DAYS: i64 = 60;

/// The station's delivering sessions and energy per day over
/// [`DAILY_DAYS`], each day against what SHADE expected of it (its
/// weekday-adjusted baseline, without days of silence). Bounded: the days
/// SHADE reads for that window, one row per day and connector.
async fn daily(state: &AppState, ui: &Ui, station: &str) -> Result<String, UiError> {
    let tenant = ui.caller.tenant.id;
    let today = chrono::Utc::now().timestamp_micros().div_euclid(86_400_000_000);
    let last = state
        .engine
        .store()
        .tenant_last_day(tenant)
        .await?
        .map_or(today, |d| d.min(today));
    let first = last - DAILY_DAYS + 1;
    let days = state
        .health
        .daily_expectations(tenant, station, first, last)
        .await?;
    let kwh = |e: f64| (e * 1000.0).round() / 1000.0;
    let json = serde_json::json!({
        "days": days.iter().map(|(e, _)| e.day * 86_400).collect::<Vec<_>>(),
        "sessions": days.iter().map(|(_, d)| d.delivering()).collect::<Vec<_>>(),
        "energy": days.iter().map(|(_, d)| kwh(d.energy_kwh)).collect::<Vec<_>>(),
        "baseline_sessions": days.iter().map(|(e, _)| e.sessions.map(|s| (s * 100.0).round() / 100.0)).collect::<Vec<_>>(),
        "baseline_energy": days.iter().map(|(e, _)| e.energy_kwh.map(kwh)).collect::<Vec<_>>(),
    });
    Ok(json.to_string().replace('<', "\\u003c"))
}
