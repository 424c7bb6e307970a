//! Response bodies, shaped exactly as the API reference, and the request
//! schemas documented in the OpenAPI description.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use evni_domain::{micros_to_datetime, Anomaly, Location, Reading, SessionStatus};
use evni_store::{SessionDetail, SessionListRow, StationRow, Verdict};
use serde::Serialize;
use utoipa::ToSchema;

fn time(micros: Option<i64>) -> Option<DateTime<Utc>> {
    micros.map(micros_to_datetime)
}

pub use evni_engine::SessionAnalysisResponse;

/// Verdict after PUT or PATCH.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionUpdateResponse {
    pub session_id: String,
    pub status: SessionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub is_anomaly: Option<bool>,
    pub anomaly_score: Option<f64>,
    pub anomaly_confidence: Option<f64>,
    pub anomalies: Vec<Anomaly>,
    pub analyzed_at: Option<DateTime<Utc>>,
}

impl SessionUpdateResponse {
    pub fn new(session_id: &str, verdict: &Verdict) -> Self {
        Self {
            session_id: session_id.to_owned(),
            status: verdict.status,
            status_reason: verdict.status_reason.clone(),
            is_anomaly: verdict.is_anomaly,
            anomaly_score: verdict.anomaly_score,
            anomaly_confidence: verdict.anomaly_confidence,
            anomalies: verdict.anomalies.clone(),
            analyzed_at: time(verdict.analyzed_at),
        }
    }
}

/// A stored meter value, with enumerations in canonical OCPP spelling.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeterValueOut {
    pub timestamp: DateTime<Utc>,
    pub value: f64,
    #[schema(value_type = String, example = "Energy.Active.Import.Register")]
    pub measurand: evni_domain::Measurand,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "kWh")]
    pub unit: Option<evni_domain::UnitOfMeasure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "L1")]
    pub phase: Option<evni_domain::Phase>,
    /// Omitted when `Outlet`, OCPP's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "EV")]
    pub location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "Sample.Periodic")]
    pub context: Option<evni_domain::ReadingContext>,
}

impl From<&Reading> for MeterValueOut {
    fn from(r: &Reading) -> Self {
        Self {
            timestamp: micros_to_datetime(r.ts),
            value: r.value,
            measurand: r.measurand,
            unit: r.unit,
            phase: r.phase,
            location: (r.location != Location::Outlet).then_some(r.location),
            context: r.context,
        }
    }
}

/// GET /v1/sessions/{session_id}.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDetailResponse {
    #[serde(flatten)]
    pub analysis: SessionAnalysisResponse,
    /// Every reading, sorted by time.
    pub meter_values: Vec<MeterValueOut>,
    pub created_at: DateTime<Utc>,
    /// Extension: the station, connector and EVSE the session was created with.
    pub charging_station_id: String,
    pub connector_id: Option<String>,
    pub evse_id: Option<String>,
    /// Extension: the session's metadata (the client's, and `ocpp` for
    /// sessions taken from OCPP frames: state, transaction id, incomplete).
    pub metadata: Option<serde_json::Value>,
}

impl From<&SessionDetail> for SessionDetailResponse {
    fn from(detail: &SessionDetail) -> Self {
        Self {
            analysis: SessionAnalysisResponse::new(&detail.header.external_id, &detail.verdict),
            meter_values: detail.readings.iter().map(MeterValueOut::from).collect(),
            created_at: micros_to_datetime(detail.header.created_at),
            charging_station_id: detail.header.station_external_id.clone(),
            connector_id: detail.header.connector_id.clone(),
            evse_id: detail.header.evse_id.clone(),
            metadata: detail.header.metadata.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionListItem {
    /// Internal session UUID.
    pub session_id: String,
    /// Client-provided session identifier.
    pub external_session_id: String,
    pub charging_station_id: String,
    pub is_anomaly: Option<bool>,
    pub anomaly_score: Option<f64>,
    /// Number of anomaly categories detected.
    pub anomaly_count: u32,
    pub status: SessionStatus,
    pub created_at: DateTime<Utc>,
    pub last_analyzed_at: Option<DateTime<Utc>>,
}

impl From<SessionListRow> for SessionListItem {
    fn from(row: SessionListRow) -> Self {
        Self {
            session_id: row.uuid.to_string(),
            external_session_id: row.external_id,
            charging_station_id: row.station_external_id,
            is_anomaly: row.is_anomaly,
            anomaly_score: row.anomaly_score,
            anomaly_count: row.anomaly_count,
            status: row.status,
            created_at: micros_to_datetime(row.created_at),
            last_analyzed_at: time(row.last_analyzed_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionListResponse {
    pub items: Vec<SessionListItem>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationListItem {
    /// Internal station UUID.
    pub charging_station_id: String,
    /// Client-provided station identifier.
    pub external_station_id: String,
    pub total_sessions: u64,
    pub anomalous_sessions: u64,
    pub max_anomaly_score: Option<f64>,
    pub last_anomaly_at: Option<DateTime<Utc>>,
}

impl From<StationRow> for StationListItem {
    fn from(row: StationRow) -> Self {
        Self {
            charging_station_id: row.uuid.to_string(),
            external_station_id: row.external_id,
            total_sessions: row.total_sessions,
            anomalous_sessions: row.anomalous_sessions,
            max_anomaly_score: row.max_anomaly_score,
            last_anomaly_at: time(row.last_anomaly_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationListResponse {
    pub items: Vec<StationListItem>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectorInfo {
    pub connector_id: String,
    pub total_sessions: u64,
    pub anomalous_sessions: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationDetailResponse {
    /// Internal station UUID.
    pub charging_station_id: String,
    pub external_station_id: String,
    pub connectors: Vec<ConnectorInfo>,
    pub total_sessions: u64,
    pub anomalous_sessions: u64,
    /// Station metadata (address, operator, rated power, ...).
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationConnectorItem {
    pub connector_id: String,
    pub total_sessions: u64,
    pub anomalous_sessions: u64,
    /// Sessions per anomaly category.
    pub anomaly_categories: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationConnectorsResponse {
    /// The station's client-provided identifier.
    pub charging_station_id: String,
    pub connectors: Vec<StationConnectorItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatisticsResponse {
    pub total_sessions: u64,
    pub anomalous_sessions: u64,
    pub total_stations: u64,
    pub stations_with_anomalies: u64,
    /// Anomalous / total sessions (0.0–1.0).
    pub anomaly_rate: f64,
}

// ---- Request schemas, for the OpenAPI description only. Parsing uses the
// ---- loosely typed shapes in `requests.rs` so every problem gets a path.

/// One OCPP meter value.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MeterValue {
    /// RFC 3339 with an offset; stored in UTC.
    timestamp: DateTime<Utc>,
    /// A finite number, or a string holding one (OCPP 1.6).
    #[schema(schema_with = number_or_numeric_string)]
    value: f64,
    /// OCPP measurand (matched case-insensitively); default
    /// Energy.Active.Import.Register.
    measurand: Option<String>,
    /// OCPP unit of measure (matched case-insensitively); default the
    /// measurand's OCPP default (Wh, W, ...).
    unit: Option<String>,
    phase: Option<String>,
    /// Default Outlet.
    location: Option<String>,
    context: Option<String>,
}

/// POST /v1/sessions, and one session of a batch or an upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SessionCreateRequest {
    /// Client unique session identifier (used for upsert): 1 to 255 bytes,
    /// no control characters, no surrounding white space.
    #[schema(min_length = 1, max_length = 255)]
    session_id: String,
    /// Required, unless `charging_point_id` is given.
    #[schema(min_length = 1, max_length = 255)]
    charging_station_id: Option<String>,
    /// The batch reference's name of `charging_station_id`, read when that
    /// is absent.
    #[schema(min_length = 1, max_length = 255)]
    charging_point_id: Option<String>,
    #[schema(schema_with = optional_id)]
    connector_id: Option<String>,
    #[schema(schema_with = optional_id)]
    evse_id: Option<String>,
    meter_values: Option<Vec<MeterValue>>,
    /// Free-form object.
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
}

/// PUT and PATCH /v1/sessions/{session_id}.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MeterValuesRequest {
    /// PUT replaces the session's readings and needs at least one; PATCH
    /// appends.
    meter_values: Vec<MeterValue>,
    /// Free-form object.
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
}

/// A finite number, or a string holding one (OCPP 1.6 sends strings).
fn number_or_numeric_string() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .item(ObjectBuilder::new().schema_type(Type::String))
        .build()
        .into()
}

/// An optional client id: OCPP sends connector ids as non-negative integers;
/// strings (1 to 255 bytes) are accepted too.
fn optional_id() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build()
        .into()
}

/// PATCH /v1/stations/{charging_station_id}.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StationPatchRequest {
    /// Merged into the station's metadata (JSON merge patch: null removes a
    /// key). Known keys: `rated_power_kw` (number, kW) and
    /// `connectors.<connector_id>.rated_power_kw`, used by the analysis.
    #[schema(value_type = Object)]
    metadata: serde_json::Value,
}
