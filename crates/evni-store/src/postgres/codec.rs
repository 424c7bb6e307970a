//! Mapping between domain values and PostgreSQL columns.

use evni_domain::{
    Anomaly, AnomalyCategory, Location, Measurand, Phase, Reading, ReadingContext, SessionStatus,
    UnitOfMeasure,
};
use tokio_postgres::Row;

use crate::model::Verdict;
use crate::StoreError;

pub(super) fn phase_text(phase: Option<Phase>) -> &'static str {
    phase.map_or("", Phase::as_str)
}

pub(super) const READING_COLUMNS: &str = "ts, measurand, phase, location, unit, value, context";

/// Reads the [`READING_COLUMNS`] from `row`.
pub(super) fn reading_from_row(row: &Row) -> Result<Reading, StoreError> {
    let measurand: &str = row.try_get(1)?;
    let phase: &str = row.try_get(2)?;
    let location: &str = row.try_get(3)?;
    let unit: Option<&str> = row.try_get(4)?;
    let context: Option<&str> = row.try_get(6)?;
    Ok(Reading {
        ts: row.try_get(0)?,
        measurand: Measurand::parse(measurand).ok_or_else(|| corrupt("measurand", measurand))?,
        phase: match phase {
            "" => None,
            p => Some(Phase::parse(p).ok_or_else(|| corrupt("phase", p))?),
        },
        location: Location::parse(location).ok_or_else(|| corrupt("location", location))?,
        unit: unit
            .map(|u| UnitOfMeasure::parse(u).ok_or_else(|| corrupt("unit", u)))
            .transpose()?,
        value: row.try_get(5)?,
        context: context
            .map(|c| ReadingContext::parse(c).ok_or_else(|| corrupt("context", c)))
            .transpose()?,
    })
}

/// The verdict columns, in the order [`verdict_from_row`] reads them.
pub(super) const VERDICT_COLUMNS: &str =
    "s.status, s.status_reason, s.is_anomaly, s.anomaly_score, s.anomaly_confidence, \
     s.is_incident, s.is_recurring, s.anomalies, s.sequence_length, s.analyzed_at";

/// Reads the [`VERDICT_COLUMNS`] starting at column `at`.
pub(super) fn verdict_from_row(row: &Row, at: usize) -> Result<Verdict, StoreError> {
    let status: &str = row.try_get(at)?;
    let anomalies: &str = row.try_get(at + 7)?;
    Ok(Verdict {
        status: SessionStatus::parse(status).ok_or_else(|| corrupt("status", status))?,
        status_reason: row.try_get(at + 1)?,
        is_anomaly: row.try_get(at + 2)?,
        anomaly_score: row.try_get(at + 3)?,
        anomaly_confidence: row.try_get(at + 4)?,
        is_incident: row.try_get(at + 5)?,
        is_recurring: row.try_get(at + 6)?,
        anomalies: serde_json::from_str::<Vec<Anomaly>>(anomalies)?,
        sequence_length: row.try_get::<_, Option<i64>>(at + 8)?.map(|n| n as u32),
        analyzed_at: row.try_get(at + 9)?,
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

pub(super) fn parse_json(text: Option<&str>) -> Result<Option<serde_json::Value>, StoreError> {
    Ok(text.map(serde_json::from_str).transpose()?)
}

/// The UUID an id names, when it is one in the hyphenated form the SQLite
/// backend matches (any case); other spellings are not looked up as UUIDs.
pub(super) fn uuid_key(id: &str) -> Option<uuid::Uuid> {
    let uuid = uuid::Uuid::parse_str(id).ok()?;
    (uuid.hyphenated().to_string() == id.to_ascii_lowercase()).then_some(uuid)
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::database(format!("stored {what} '{value}' is not recognised"))
}
