//! What both backends compute alike for station-day aggregates and SHADE
//! results: a session's share of its station's day, the median of a day's
//! plateau powers, and the signature that tells a changed SHADE result.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::health::{HealthResult, SessionFacts};

pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// `zone`'s offset from UTC at an instant, in seconds.
pub(crate) fn utc_offset(micros: i64, zone: Tz) -> i32 {
    use chrono::{Offset, TimeZone};
    zone.offset_from_utc_datetime(&evni_domain::micros_to_datetime(micros).naive_utc())
        .fix()
        .local_minus_utc()
}

/// An instant as wall-clock time in `zone`, in microseconds since a local
/// 1970-01-01 00:00: its day number is the local day.
pub(crate) fn local_micros(micros: i64, zone: Tz) -> i64 {
    micros + i64::from(utc_offset(micros, zone)) * 1_000_000
}

/// The day of an instant in `zone`, as days since 1970-01-01: a station's
/// day is its local day.
pub(crate) fn day_of(micros: i64, zone: Tz) -> i64 {
    local_micros(micros, zone).div_euclid(MICROS_PER_DAY)
}

/// The instants (UTC microseconds, end excluded) that hold local days
/// `from_day..=to_day` in any zone: a day wider on each side.
pub(crate) fn instants_of_days(from_day: i64, to_day: i64) -> (i64, i64) {
    (
        from_day.saturating_sub(1).saturating_mul(MICROS_PER_DAY),
        to_day.saturating_add(2).saturating_mul(MICROS_PER_DAY),
    )
}

/// Session starts (UTC, in order) as local wall-clock times in `zone`, only
/// those on local days `from_day..=to_day`.
pub(crate) fn local_starts(starts: Vec<i64>, zone: Tz, from_day: i64, to_day: i64) -> Vec<i64> {
    starts
        .into_iter()
        .map(|s| local_micros(s, zone))
        .filter(|l| (from_day..=to_day).contains(&l.div_euclid(MICROS_PER_DAY)))
        .collect()
}

/// A station's zone from its effective IANA name (its metadata's
/// `time_zone`, else its tenant's); UTC when there is none. Names are
/// checked when they are set, so an unknown one is not expected here.
pub(crate) fn zone_of(name: Option<&str>) -> Tz {
    name.and_then(|n| n.parse().ok()).unwrap_or(Tz::UTC)
}

/// What one session adds to `station_days`; stored on the session row (as
/// the same JSON in both backends) so a later write removes exactly it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DayContribution {
    pub station_id: i64,
    pub day: i64,
    pub connector_id: String,
    pub energy_kwh: f64,
    pub plateau_kw: Option<f64>,
    pub is_zero: bool,
    pub anomalous: bool,
}

impl DayContribution {
    /// The session's share after a write; `None` while it has no readings
    /// or no facts.
    pub(crate) fn of(input: &SessionDayInput<'_>) -> Option<Self> {
        let (started_at, facts) = (input.started_at?, input.facts?);
        Some(Self {
            station_id: input.station_id,
            day: day_of(started_at, input.zone),
            connector_id: input.connector_id.unwrap_or_default().to_owned(),
            energy_kwh: facts.energy_kwh,
            plateau_kw: facts.plateau_kw,
            is_zero: facts.is_zero,
            anomalous: input.anomalous,
        })
    }

    pub(crate) fn same_day_as(&self, other: &DayContribution) -> bool {
        (self.station_id, self.day, &self.connector_id) == (other.station_id, other.day, &other.connector_id)
    }

    /// A stored contribution (`text`) and the same on its day in `zone`,
    /// when that is another day.
    pub(crate) fn redated(
        text: &str,
        started_at: i64,
        zone: Option<&str>,
    ) -> Result<Option<(Self, Self)>, serde_json::Error> {
        let old: Self = serde_json::from_str(text)?;
        let day = day_of(started_at, zone_of(zone));
        Ok((day != old.day).then(|| {
            let new = Self { day, ..old.clone() };
            (old, new)
        }))
    }

    /// From the session row's `day_contribution` column.
    pub(crate) fn parse(text: Option<&str>) -> Result<Option<Self>, serde_json::Error> {
        text.map(serde_json::from_str).transpose()
    }

    /// For the session row's `day_contribution` column.
    pub(crate) fn text(contribution: Option<&Self>) -> Result<Option<String>, serde_json::Error> {
        contribution.map(serde_json::to_string).transpose()
    }
}

/// One webhook event of a stored station anomaly.
pub(crate) struct AnomalyEvent<'a> {
    pub anomaly_id: i64,
    pub station_external_id: &'a str,
    pub anomaly: &'a crate::health::FoundAnomaly,
    /// `station.anomaly_detected` or `station.anomaly_resolved`.
    pub event: &'static str,
}

/// The event SHADE sends for a new station anomaly.
pub(crate) const STATION_ANOMALY_EVENT: &str = "station.anomaly_detected";
/// The event SHADE sends when an anomaly's episode is over.
pub(crate) const STATION_RESOLVED_EVENT: &str = "station.anomaly_resolved";

impl AnomalyEvent<'_> {
    /// The body delivered to an endpoint, carrying its delivery's id.
    pub(crate) fn payload(&self, webhook_id: &str, analyzed_at: i64) -> serde_json::Value {
        crate::health::EventBody {
            event: self.event,
            station: Some(self.station_external_id),
            is_anomaly: self.event == STATION_ANOMALY_EVENT,
            anomaly_score: self.anomaly.anomaly_score,
            detection_details: &self.anomaly.detection_details,
            analyzed_at,
        }
        .json(webhook_id)
    }
}

/// Whether a station anomaly's details say its episode is over.
pub(crate) fn is_resolved(details: &serde_json::Value) -> bool {
    details["status"] == "resolved"
}

/// The session's share of its station's day after a write.
pub(crate) struct SessionDayInput<'a> {
    pub station_id: i64,
    pub connector_id: Option<&'a str>,
    /// First reading; `None` while the session has none.
    pub started_at: Option<i64>,
    pub anomalous: bool,
    pub facts: Option<&'a SessionFacts>,
    /// The station's zone: its days are local days.
    pub zone: Tz,
}

/// Takes `remove` out of a day's sorted plateau values (the nearest one) and
/// puts `add` in. A median cannot be kept by deltas: the day keeps its values.
pub(crate) fn move_plateau(values: &mut Vec<f64>, remove: Option<f64>, add: Option<f64>) {
    if let Some(plateau) = remove {
        let nearest = values
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1 - plateau).abs().total_cmp(&(b.1 - plateau).abs()))
            .map(|(i, _)| i);
        if let Some(at) = nearest {
            values.remove(at);
        }
    }
    if let Some(plateau) = add {
        let at = values.partition_point(|v| *v < plateau);
        values.insert(at, plateau);
    }
}

pub(crate) fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// What decides whether a SHADE result differs from the previous one.
pub(crate) fn signature(result: &HealthResult) -> String {
    let mut keys: Vec<String> = result
        .anomalies
        .iter()
        .map(|a| {
            format!(
                "{}|{}|{}|{:.2}",
                a.anomaly_type,
                a.connector_id.as_deref().unwrap_or(""),
                a.affected_period,
                a.anomaly_score
            )
        })
        .collect();
    keys.sort();
    format!(
        "{}:{:.2}:{}",
        result.is_anomaly,
        result.anomaly_score,
        keys.join(";")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plateau_moves_within_the_sorted_values() {
        let mut values = vec![7.0, 11.0, 22.0];
        move_plateau(&mut values, Some(11.000_000_1), Some(3.5));
        assert_eq!(values, [3.5, 7.0, 22.0]);
        move_plateau(&mut values, None, Some(50.0));
        move_plateau(&mut values, Some(7.0), None);
        assert_eq!(values, [3.5, 22.0, 50.0]);
        assert_eq!(median(&values), Some(22.0));
        move_plateau(&mut values, Some(22.0), None);
        assert_eq!(median(&values), Some((3.5 + 50.0) / 2.0));
    }
}
