//! The verdict of a session as the API shows it, shared by the API and the
//! batch worker so both render it the same way.

use chrono::{DateTime, Utc};
use evni_domain::{micros_to_datetime, Anomaly, SessionStatus};
use evni_store::Verdict;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Verdict of a session (POST /v1/sessions, batch results).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionAnalysisResponse {
    pub session_id: String,
    pub status: SessionStatus,
    /// Why the analysis failed, when `status` is `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub is_anomaly: Option<bool>,
    pub anomaly_score: Option<f64>,
    pub anomaly_confidence: Option<f64>,
    pub is_incident: Option<bool>,
    pub is_recurring: Option<bool>,
    pub anomalies: Vec<Anomaly>,
    pub analyzed_at: Option<DateTime<Utc>>,
    /// Buckets analysed (batch results only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_length: Option<u32>,
}

impl SessionAnalysisResponse {
    pub fn new(session_id: &str, verdict: &Verdict) -> Self {
        Self {
            session_id: session_id.to_owned(),
            status: verdict.status,
            status_reason: verdict.status_reason.clone(),
            is_anomaly: verdict.is_anomaly,
            anomaly_score: verdict.anomaly_score,
            anomaly_confidence: verdict.anomaly_confidence,
            is_incident: verdict.is_incident,
            is_recurring: verdict.is_recurring,
            anomalies: verdict.anomalies.clone(),
            analyzed_at: verdict.analyzed_at.map(micros_to_datetime),
            sequence_length: None,
        }
    }

    /// With `sequence_length`, as batch results show it.
    pub fn with_sequence_length(mut self, verdict: &Verdict) -> Self {
        self.sequence_length = verdict.sequence_length;
        self
    }
}
