//! Mapping between domain values and SQLite columns.

use evni_domain::{Anomaly, AnomalyCategory, Phase, Reading, SessionStatus};
use rusqlite::Row;

use super::reading_codes::{decode, decode_phase};

use crate::model::Verdict;
use crate::StoreError;

pub(super) fn phase_text(phase: Option<Phase>) -> &'static str {
    phase.map_or("", Phase::as_str)
}

/// Reads `ts, measurand, phase, location, unit, value, context` (stored
/// as codes, see reading_codes.rs) from `row`.
pub(super) fn reading_from_row(row: &Row<'_>) -> Result<Reading, StoreError> {
    Ok(Reading {
        ts: row.get(0)?,
        measurand: decode(row.get(1)?)?,
        phase: decode_phase(row.get(2)?)?,
        location: decode(row.get(3)?)?,
        unit: row.get::<_, Option<i64>>(4)?.map(decode).transpose()?,
        value: row.get(5)?,
        context: row.get::<_, Option<i64>>(6)?.map(decode).transpose()?,
    })
}

pub(super) const READING_COLUMNS: &str = "ts, measurand, phase, location, unit, value, context";

/// The verdict columns, in the order [`verdict_from_row`] reads them.
pub(super) const VERDICT_COLUMNS: &str =
    "status, status_reason, is_anomaly, anomaly_score, anomaly_confidence, \
     is_incident, is_recurring, anomalies, sequence_length, analyzed_at";

/// Reads the [`VERDICT_COLUMNS`] starting at column `at`.
pub(super) fn verdict_from_row(row: &Row<'_>, at: usize) -> Result<Verdict, StoreError> {
    let status: String = row.get(at)?;
    let anomalies: String = row.get(at + 7)?;
    Ok(Verdict {
        status: SessionStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        status_reason: row.get(at + 1)?,
        is_anomaly: row.get(at + 2)?,
        anomaly_score: row.get(at + 3)?,
        anomaly_confidence: row.get(at + 4)?,
        is_incident: row.get(at + 5)?,
        is_recurring: row.get(at + 6)?,
        anomalies: serde_json::from_str::<Vec<Anomaly>>(&anomalies)?,
        sequence_length: row.get(at + 8)?,
        analyzed_at: row.get(at + 9)?,
    })
}

pub(super) fn categories_text(verdict: &Verdict) -> String {
    verdict
        .categories()
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn parse_categories(text: &str) -> Vec<AnomalyCategory> {
    text.split(',').filter_map(AnomalyCategory::parse).collect()
}

pub(super) fn parse_json(text: Option<String>) -> Result<Option<serde_json::Value>, StoreError> {
    Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::database(format!("stored {what} '{value}' is not recognised"))
}
