//! Network health (an extension, issue 19): a tenant's stations judged
//! together, the drops they share as tenant-level events, and each
//! station's share of the network's movement, which its own judgement
//! reads. The records here; the [`crate::HealthStore`] methods store them.

use evni_domain::Micros;

use crate::station_days::is_resolved;

/// The event sent when a network drop is found, and when it is over.
pub const NETWORK_DROP_EVENT: &str = "network.drop_detected";
pub const NETWORK_RESOLVED_EVENT: &str = "network.drop_resolved";

/// One station's day, summed over its connectors.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkStationDay {
    pub station_external_id: String,
    pub day: i64,
    pub sessions: u32,
    pub zero_sessions: u32,
    pub energy_kwh: f64,
}

/// A tenant's station days over a range of days, by station and day.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkHistory {
    pub days: Vec<NetworkStationDay>,
    /// The last day with a session at any station of the tenant.
    pub tenant_last_day: Option<i64>,
    /// The smallest offset from UTC now among the tenant's stations (their
    /// `time_zone`), in seconds: a network day is complete once it is
    /// complete at every station.
    pub min_utc_offset_seconds: i32,
}

/// A network event found by a run.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundNetworkEvent {
    pub first_day: i64,
    pub anomaly_score: f64,
    /// `event_type`, `affected_period`, `status` and the figures.
    pub detection_details: serde_json::Value,
}

/// A station's movement with the network on a day the network fell.
#[derive(Debug, Clone, PartialEq)]
pub struct StationMovement {
    pub station_external_id: String,
    pub day: i64,
    pub factor: f64,
}

/// The result of one network run, through `judged_through`.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkResult {
    pub analyzed_at: Micros,
    pub judged_through: i64,
    pub is_drop: bool,
    pub detection_details: serde_json::Value,
    /// [`NetworkHistory::min_utc_offset_seconds`] of the run's data.
    pub min_utc_offset_seconds: i32,
    pub events: Vec<FoundNetworkEvent>,
    /// Every movement of the days `rejudged_from..=judged_through`: their
    /// stored ones are replaced, as are the events starting on them.
    pub movements: Vec<StationMovement>,
    pub rejudged_from: i64,
}

/// What a network run stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordedNetwork {
    pub new_events: usize,
    pub deliveries_enqueued: usize,
}

/// A stored network event.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkEventRow {
    pub anomaly_score: f64,
    pub detection_details: serde_json::Value,
    pub detected_at: Micros,
}

/// A tenant's latest network verdict and its events, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkHealth {
    pub judged_through: i64,
    pub analyzed_at: Micros,
    pub is_drop: bool,
    pub detection_details: serde_json::Value,
    /// As of the last run: the network's day is complete once it is
    /// complete at this offset from UTC.
    pub min_utc_offset_seconds: i32,
    pub events: Vec<NetworkEventRow>,
}

/// The webhook events a run sends for an event: `stored` is whether it was
/// stored before and, if so, resolved. Each is sent once.
pub(crate) fn events_to_send(stored: Option<bool>, details: &serde_json::Value) -> Vec<&'static str> {
    let resolved = is_resolved(details);
    match stored {
        None if resolved => vec![NETWORK_DROP_EVENT, NETWORK_RESOLVED_EVENT],
        None => vec![NETWORK_DROP_EVENT],
        Some(false) if resolved => vec![NETWORK_RESOLVED_EVENT],
        Some(_) => Vec::new(),
    }
}

/// Stored events (their first days) that a run over their days did not
/// find: withdrawn. A webhook sent for one is not recalled.
pub(crate) fn withdrawn(stored: Vec<i64>, result: &NetworkResult) -> Vec<i64> {
    stored
        .into_iter()
        .filter(|day| !result.events.iter().any(|e| e.first_day == *day))
        .collect()
}

/// The body of a network event's delivery: shaped like a station event's,
/// without a station.
pub(crate) fn payload(
    event: &str,
    found: &FoundNetworkEvent,
    webhook_id: &str,
    analyzed_at: Micros,
) -> serde_json::Value {
    crate::health::EventBody {
        event,
        station: None,
        is_anomaly: event == NETWORK_DROP_EVENT,
        anomaly_score: found.anomaly_score,
        detection_details: &found.detection_details,
        analyzed_at,
    }
    .json(webhook_id)
}
