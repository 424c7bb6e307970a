//! Station health (SHADE) and webhooks: records and the [`HealthStore`]
//! trait, a supertrait of [`crate::Store`] so every backend provides it.
//! Stations are named as in the API: the client's id or the internal UUID.

use async_trait::async_trait;
use evni_domain::Micros;
use serde::{Deserialize, Serialize};

use crate::model::{Page, PageRequest, TenantId};
use crate::network::{NetworkHealth, NetworkHistory, NetworkResult, RecordedNetwork};
use crate::StoreError;

/// A station's dirty mark (the time of its latest change, for SHADE's
/// debounce) is moved forward only once it is this much older than a new
/// change: a stream of appends to a station's sessions rewrites the mark's
/// page (one more page in the WAL per commit) at most this often, not with
/// every commit. Well below any useful debounce.
pub(crate) const DIRTY_MARK_STEP: Micros = 50_000;

/// A run clears a station's dirty mark only if the mark is this much older
/// than the data the run read. A mark carries the time its write began, not
/// when it committed: a write that began before a run read the data may
/// commit after the read (it waited for a lock, a connection or its turn in
/// the group commit, long on a loaded machine), and its change must not be
/// cleared with the run. A station changed within this margin of a run is
/// simply run once more after the debounce. Far above any write's duration
/// and above the mark step, so a change the mark absorbed is never cleared.
pub const DIRTY_MARK_CLEAR_MARGIN: Micros = 5_000_000;

/// The event an operator sends to check an endpoint (an extension): shaped
/// like `station.anomaly_detected`, signed and retried like it, about no
/// real station, so a receiver can test its parsing and then ignore it.
pub const TEST_EVENT: &str = "webhook.test";
/// The station a test event names.
pub const TEST_EVENT_STATION: &str = "evni-test";

/// A new delivery's id: its `webhook-id` header and payload field.
pub(crate) fn new_webhook_id() -> String {
    format!("wh-evt-{}", uuid::Uuid::now_v7().simple())
}

/// What a webhook delivery carries: every event (station, network, test)
/// has this one shape.
pub(crate) struct EventBody<'a> {
    pub event: &'a str,
    /// `None` for a network event.
    pub station: Option<&'a str>,
    pub is_anomaly: bool,
    pub anomaly_score: f64,
    pub detection_details: &'a serde_json::Value,
    pub analyzed_at: Micros,
}

impl EventBody<'_> {
    /// The body delivered to an endpoint, carrying its delivery's id.
    pub(crate) fn json(&self, webhook_id: &str) -> serde_json::Value {
        serde_json::json!({
            "event": self.event,
            "charging_station_id": self.station,
            "is_anomaly": self.is_anomaly,
            "anomaly_score": self.anomaly_score,
            "detection_details": self.detection_details,
            "analyzed_at": evni_domain::micros_to_datetime(self.analyzed_at)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "webhook_id": webhook_id,
        })
    }
}

/// The body of a test event.
pub fn test_event_payload(webhook_id: &str, now: Micros) -> serde_json::Value {
    let details = serde_json::json!({
        "message": "A test event: evni can reach this endpoint. No station is affected.",
    });
    EventBody {
        event: TEST_EVENT,
        station: Some(TEST_EVENT_STATION),
        is_anomaly: false,
        anomaly_score: 0.0,
        detection_details: &details,
        analyzed_at: now,
    }
    .json(webhook_id)
}

/// What one session adds to its station's day, from the session summary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SessionFacts {
    pub energy_kwh: f64,
    pub plateau_kw: Option<f64>,
    pub is_zero: bool,
}

/// One station-day-connector aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct StationDay {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    /// `""` for sessions without a connector.
    pub connector_id: String,
    pub sessions: u32,
    pub energy_kwh: f64,
    pub zero_sessions: u32,
    pub anomalous_sessions: u32,
    /// Plateau power of each session that had one (kW), sorted.
    pub plateaus_kw: Vec<f64>,
    pub median_plateau_kw: Option<f64>,
}

/// A station as SHADE sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthStation {
    pub tenant: TenantId,
    pub external_id: String,
}

/// The aggregates of one station over a range of days, and the last day
/// for which the tenant has sent any session (its data frontier).
#[derive(Debug, Clone, PartialEq)]
pub struct StationHistory {
    pub station: HealthStation,
    pub days: Vec<StationDay>,
    pub tenant_last_day: Option<i64>,
    /// When each zero session of those days started, in order, as the
    /// station's wall-clock time (its day number is the station's day):
    /// retries of one driver minutes apart are one event for SHADE.
    pub zero_starts: Vec<Micros>,
    /// The station's offset from UTC now (its `time_zone`), in seconds:
    /// its days are local days, and so is its today.
    pub utc_offset_seconds: i32,
    /// The network's common movement on the days of the range it fell
    /// (`(day, factor)`, by day): what the station is judged against.
    pub common_movement: Vec<(i64, f64)>,
}

/// One station anomaly found by a run.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundAnomaly {
    pub anomaly_type: String,
    pub connector_id: Option<String>,
    /// `YYYY-MM-DD`, the first day of the episode.
    pub affected_period: String,
    pub anomaly_score: f64,
    pub detection_details: serde_json::Value,
}

/// The result of one SHADE run for one station.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthResult {
    pub analyzed_at: Micros,
    pub is_anomaly: bool,
    pub anomaly_score: f64,
    /// The strongest anomaly's details, or what the healthy verdict is based on.
    pub detection_details: serde_json::Value,
    pub anomalies: Vec<FoundAnomaly>,
    /// When the run read the data: a dirty mark set later stays.
    pub data_read_at: Micros,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordedHealth {
    pub inference_id: String,
    /// Anomalies seen for the first time by this run.
    pub new_anomalies: usize,
    /// Webhook deliveries enqueued for them.
    pub deliveries_enqueued: usize,
}

/// A stored SHADE result.
#[derive(Debug, Clone, PartialEq)]
pub struct StationInference {
    pub inference_id: String,
    pub station_external_id: String,
    pub is_anomaly: bool,
    pub anomaly_score: f64,
    pub detection_details: serde_json::Value,
    pub analyzed_at: Micros,
}

/// A station anomaly in the history.
#[derive(Debug, Clone, PartialEq)]
pub struct StationAnomalyRow {
    pub inference_id: String,
    pub anomaly_score: f64,
    pub detection_details: serde_json::Value,
    pub detected_at: Micros,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhookEndpoint {
    pub tenant: TenantId,
    pub url: String,
    /// `whsec_` + base64 key.
    pub secret: String,
    pub authorization: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub has_authorization: bool,
    pub created_at: Micros,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAttempt {
    pub attempted_at: Micros,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    pub webhook_id: String,
    pub event: String,
    pub station_external_id: String,
    pub status: String,
    pub payload: serde_json::Value,
    pub next_attempt_at: Option<Micros>,
    pub created_at: Micros,
    pub delivered_at: Option<Micros>,
    pub attempts: Vec<WebhookAttempt>,
}

/// A due delivery, leased to the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub webhook_id: String,
    pub url: String,
    pub secret: String,
    pub authorization: Option<String>,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub created_at: Micros,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DeliveryNext {
    Delivered,
    RetryAt(Micros),
    GiveUp,
}

#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Stations whose data changed at or before `changed_before`.
    async fn dirty_stations(&self, changed_before: Micros) -> Result<Vec<HealthStation>, StoreError>;
    /// Every station of every tenant that has station-day aggregates.
    async fn health_stations(&self) -> Result<Vec<HealthStation>, StoreError>;
    /// A station's aggregates for days `from_day..=to_day`.
    async fn station_history(
        &self,
        tenant: TenantId,
        station: &str,
        from_day: i64,
        to_day: i64,
    ) -> Result<StationHistory, StoreError>;
    /// The last day with a session at any station of the tenant.
    async fn tenant_last_day(&self, tenant: TenantId) -> Result<Option<i64>, StoreError>;
    /// When the tenant's data last changed, while a change is not yet
    /// judged (its newest dirty mark).
    async fn tenant_changed_at(&self, tenant: TenantId) -> Result<Option<Micros>, StoreError>;
    /// Stores a run's result, its new anomalies and their webhook deliveries
    /// in one transaction, and clears the station's dirty mark if nothing
    /// changed after `result.data_read_at`.
    async fn record_station_health(
        &self,
        tenant: TenantId,
        station: &str,
        result: HealthResult,
    ) -> Result<RecordedHealth, StoreError>;
    /// The tenant's station days `from_day..=to_day`, for the network.
    async fn network_history(
        &self,
        tenant: TenantId,
        from_day: i64,
        to_day: i64,
    ) -> Result<NetworkHistory, StoreError>;
    /// Stores a network run: the verdict, its events (new ones and
    /// resolves enqueue their webhooks) and the stations' movements of its
    /// days, in one transaction.
    async fn record_network_health(
        &self,
        tenant: TenantId,
        result: NetworkResult,
    ) -> Result<RecordedNetwork, StoreError>;
    /// The latest network verdict; `Ok(None)` before the first run.
    async fn network_health(&self, tenant: TenantId) -> Result<Option<NetworkHealth>, StoreError>;
    /// The latest SHADE result; `Ok(None)` when the station was never analysed.
    async fn latest_station_inference(
        &self,
        tenant: TenantId,
        station: &str,
    ) -> Result<Option<StationInference>, StoreError>;
    /// Station anomalies, newest first.
    async fn station_anomalies(
        &self,
        tenant: TenantId,
        station: &str,
        page: PageRequest,
    ) -> Result<Page<StationAnomalyRow>, StoreError>;
}
