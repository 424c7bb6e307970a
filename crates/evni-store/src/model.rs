//! Backend-independent records the store reads and writes.

use std::collections::BTreeMap;

use evni_domain::{Anomaly, AnomalyCategory, FeedbackLabel, Micros, Reading, SessionStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub type TenantId = Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub settings: TenantSettings,
    pub created_at: Micros,
}

/// Per-tenant analysis settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// A session is anomalous when its anomaly_score reaches this.
    pub anomaly_threshold: f64,
    /// IANA name of the zone whose days are the stations' days, unless a
    /// station's metadata names its own; `None`: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            anomaly_threshold: 0.5,
            time_zone: None,
        }
    }
}

/// The latest verdict of a session, as stored with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: SessionStatus,
    /// Why the status is `failed`.
    pub status_reason: Option<String>,
    pub is_anomaly: Option<bool>,
    pub anomaly_score: Option<f64>,
    pub anomaly_confidence: Option<f64>,
    pub is_incident: Option<bool>,
    pub is_recurring: Option<bool>,
    pub anomalies: Vec<Anomaly>,
    pub sequence_length: Option<u32>,
    pub analyzed_at: Option<Micros>,
}

impl Verdict {
    pub fn pending() -> Self {
        Self {
            status: SessionStatus::Pending,
            status_reason: None,
            is_anomaly: None,
            anomaly_score: None,
            anomaly_confidence: None,
            is_incident: None,
            is_recurring: None,
            anomalies: Vec::new(),
            sequence_length: None,
            analyzed_at: None,
        }
    }

    /// Distinct categories found, in a stable order.
    pub fn categories(&self) -> Vec<AnomalyCategory> {
        let mut categories: Vec<_> = self.anomalies.iter().map(|a| a.category).collect();
        categories.sort();
        categories.dedup();
        categories
    }
}

/// Descriptive fields of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionHeader {
    pub uuid: Uuid,
    pub external_id: String,
    pub station_external_id: String,
    pub connector_id: Option<String>,
    pub evse_id: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub created_at: Micros,
    /// The operator's latest judgement of the session.
    pub feedback: Option<FeedbackLabel>,
}

/// A session as the engine keeps it hot: header, every reading (sorted by
/// [`evni_domain::ReadingKey`]), latest verdict and the row version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSession {
    pub header: SessionHeader,
    pub version: i64,
    pub readings: Vec<Reading>,
    pub verdict: Verdict,
}

/// How a write changes the readings of a session.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadingsChange {
    /// Insert these readings, replacing any with the same identity.
    Upsert(Vec<Reading>),
    /// Delete every reading, then insert these.
    Replace(Vec<Reading>),
}

/// One atomic change of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionWrite {
    pub tenant: TenantId,
    pub header: SessionHeader,
    /// `None` creates the session; `Some(v)` updates it if its version is `v`.
    pub expected_version: Option<i64>,
    pub readings: ReadingsChange,
    /// Readings the session holds after the write.
    pub reading_count: usize,
    /// Timestamp of the session's first reading after the write.
    pub started_at: Option<Micros>,
    pub verdict: Verdict,
    /// Recorded in the inference history when the analysis ran.
    pub inference: Option<InferenceRecord>,
    /// Operator feedback given with this write.
    pub feedback: Option<FeedbackRecord>,
    /// What the session adds to its station's day (station health); `None`
    /// takes it out of the station-day aggregates.
    pub summary: Option<crate::health::SessionFacts>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRecord {
    pub label: FeedbackLabel,
    pub comment: Option<String>,
}

/// What one analysis run used, kept in the inference history.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceRecord {
    pub model: String,
    pub readings_analyzed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteOutcome {
    /// The session's version after the write.
    pub version: i64,
    /// Whether a category of the verdict recurs at the station: found in at
    /// least two other sessions there in the 30 days before this one.
    /// Derived from stored history inside the write's transaction.
    pub is_recurring: Option<bool>,
    /// The id of the feedback recorded with the write.
    pub feedback_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionDetail {
    pub header: SessionHeader,
    pub verdict: Verdict,
    pub readings: Vec<Reading>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based.
    pub page: u32,
    pub page_size: u32,
}

impl PageRequest {
    pub fn offset(&self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.page_size)
    }

    /// How to read this page of `total` rows sorted newest first: pages in
    /// the older half are read from the oldest end (`ascending`), so no
    /// page skips more than half the rows (the last of 100,000 sessions
    /// skipped all of them: 79 ms).
    pub(crate) fn window(&self, total: u64) -> PageWindow {
        let offset = self.offset();
        let size = u64::from(self.page_size);
        if offset.saturating_mul(2) <= total || offset >= total {
            return PageWindow {
                ascending: false,
                limit: size,
                offset,
            };
        }
        let end = (offset + size).min(total);
        PageWindow {
            ascending: true,
            limit: end - offset,
            offset: total - end,
        }
    }
}

/// LIMIT and OFFSET of a page, in newest-first order or reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageWindow {
    pub ascending: bool,
    pub limit: u64,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionFilter {
    pub page: Option<PageRequest>,
    pub station: Option<String>,
    pub evse_id: Option<String>,
    pub is_anomaly: Option<bool>,
    pub min_score: Option<f64>,
    pub min_confidence: Option<f64>,
    /// Sessions whose first reading is at or after this instant.
    pub date_from: Option<Micros>,
    /// Sessions whose first reading is before this instant.
    pub date_to: Option<Micros>,
    /// Sessions whose latest verdict has an anomaly of this category.
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionListRow {
    pub uuid: Uuid,
    pub external_id: String,
    pub station_external_id: String,
    pub is_anomaly: Option<bool>,
    pub anomaly_score: Option<f64>,
    pub anomaly_count: u32,
    pub status: SessionStatus,
    pub created_at: Micros,
    pub last_analyzed_at: Option<Micros>,
    /// Energy delivered (kWh), once the session has readings and facts.
    pub energy_kwh: Option<f64>,
    /// The first reading's time, once there is one.
    pub started_at: Option<Micros>,
    /// The latest verdict's anomaly categories.
    pub categories: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StationRow {
    pub uuid: Uuid,
    pub external_id: String,
    pub total_sessions: u64,
    pub anomalous_sessions: u64,
    pub max_anomaly_score: Option<f64>,
    pub last_anomaly_at: Option<Micros>,
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorRow {
    pub connector_id: String,
    pub total_sessions: u64,
    pub anomalous_sessions: u64,
    /// Sessions per anomaly category.
    pub categories: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    pub total_sessions: u64,
    pub anomalous_sessions: u64,
    pub total_stations: u64,
    pub stations_with_anomalies: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page: u32) -> PageRequest {
        PageRequest { page, page_size: 20 }
    }

    #[test]
    fn pages_in_the_newer_half_are_read_newest_first() {
        let w = page(3).window(100);
        assert_eq!((w.ascending, w.limit, w.offset), (false, 20, 40));
    }

    #[test]
    fn pages_in_the_older_half_are_read_from_the_oldest_end() {
        // Rows 60..80 newest first are rows 20..40 oldest first.
        let w = page(4).window(100);
        assert_eq!((w.ascending, w.limit, w.offset), (true, 20, 20));
        // A short last page: rows 80..90 of 90.
        let w = page(5).window(90);
        assert_eq!((w.ascending, w.limit, w.offset), (true, 10, 0));
    }

    #[test]
    fn pages_past_the_end_stay_empty() {
        let w = page(9).window(100);
        assert_eq!((w.ascending, w.offset), (false, 160));
    }
}
