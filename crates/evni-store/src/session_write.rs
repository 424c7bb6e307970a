//! What both backends derive alike from a [`SessionWrite`] before storing
//! it: the version check, the session's share of its station's day and the
//! analysis run for the inference history.

use chrono_tz::Tz;

use crate::model::{SessionWrite, Verdict};
use crate::station_days::{DayContribution, SessionDayInput};
use crate::StoreError;

/// Refuses a write that expects another version than the stored one
/// (`None`: a create, or no session stored).
pub(crate) fn check_version(expected: Option<i64>, stored: Option<i64>) -> Result<(), StoreError> {
    match (expected, stored) {
        (None, Some(_)) => Err(StoreError::Conflict("session exists already".into())),
        (Some(_), None) => Err(StoreError::Conflict("session is gone".into())),
        (Some(expected), Some(stored)) if stored != expected => Err(StoreError::Conflict(format!(
            "session is at version {stored}, not {expected}"
        ))),
        _ => Ok(()),
    }
}

/// The session's share of its station's (local) day once `write` is stored.
pub(crate) fn day_contribution(write: &SessionWrite, station_id: i64, zone: Tz) -> Option<DayContribution> {
    DayContribution::of(&SessionDayInput {
        station_id,
        zone,
        connector_id: write.header.connector_id.as_deref(),
        started_at: write.started_at,
        anomalous: write.verdict.is_anomaly == Some(true),
        facts: write.summary.as_ref(),
    })
}

/// One analysis run for the inference history.
pub(crate) struct InferenceRow<'a> {
    pub analyzed_at: i64,
    pub model: &'a str,
    pub verdict: &'a Verdict,
    pub readings_analyzed: i64,
    /// The verdict's anomalies as JSON.
    pub anomalies: &'a str,
}

impl<'a> InferenceRow<'a> {
    /// The run `write` records, if it was analysed.
    pub(crate) fn of(write: &'a SessionWrite, anomalies: &'a str, now: i64) -> Option<Self> {
        write.inference.as_ref().map(|inference| Self {
            analyzed_at: write.verdict.analyzed_at.unwrap_or(now),
            model: &inference.model,
            verdict: &write.verdict,
            readings_analyzed: inference.readings_analyzed as i64,
            anomalies,
        })
    }
}

/// A category recurs at a station when this many other sessions there had
/// it in the [`RECURRING_WINDOW`] up to the session's start.
pub(crate) const RECURRING_SESSIONS: i64 = 2;
pub(crate) const RECURRING_WINDOW: i64 = 30 * 24 * 3600 * 1_000_000;

/// The starts (inclusive) of the other sessions that make a session that
/// started at `started_at` recurring.
pub(crate) fn recurrence_window(started_at: i64) -> (i64, i64) {
    (started_at - RECURRING_WINDOW, started_at)
}
