//! A station's day aggregates, as SHADE reads them.

use std::collections::BTreeMap;

/// One connector's share of a day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectorDay {
    pub day: i64,
    /// `""` for sessions without a connector.
    pub connector_id: String,
    pub sessions: u32,
    pub energy_kwh: f64,
    pub zero_sessions: u32,
    pub anomalous_sessions: u32,
    /// Plateau power of each session that had one (kW).
    pub plateaus_kw: Vec<f64>,
}

/// A station's day, summed over its connectors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayAggregate {
    pub sessions: u32,
    pub energy_kwh: f64,
    pub zero_sessions: u32,
    /// Zero sessions as events: retries of one driver minutes apart are
    /// one. `None` when the starts are not known: each is one.
    pub zero_events: Option<u32>,
    pub anomalous_sessions: u32,
    /// Plateau power of each session that had one (kW), sorted.
    pub plateaus_kw: Vec<f64>,
    /// Sessions per connector (connectors with sessions that day).
    pub connector_sessions: BTreeMap<String, u32>,
}

/// Day aggregates by day number; a day without an entry had no sessions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    days: BTreeMap<i64, DayAggregate>,
    /// The network's common movement on the days it fell (`network` module):
    /// what the other stations did against their expectation, in (0, 1].
    /// A day's expectation is multiplied by it, and such days stay out of
    /// baselines, so that after a long drop the station learns its new
    /// level as the network does. Days without an entry: 1.
    common: BTreeMap<i64, f64>,
}

impl DayAggregate {
    /// Sessions that delivered energy: aborted starts and other zero
    /// sessions are evidence of silence, not of use.
    pub fn delivering(&self) -> u32 {
        self.sessions.saturating_sub(self.zero_sessions)
    }

    /// Zero-session events: retries of one driver count once.
    pub fn zero_events(&self) -> u32 {
        self.zero_events.unwrap_or(self.zero_sessions)
    }

    /// Median plateau power of the day's sessions (kW).
    pub fn median_plateau_kw(&self) -> Option<f64> {
        crate::stats::median_sorted(&self.plateaus_kw)
    }
}

static EMPTY: DayAggregate = DayAggregate {
    sessions: 0,
    energy_kwh: 0.0,
    zero_sessions: 0,
    zero_events: None,
    anomalous_sessions: 0,
    plateaus_kw: Vec::new(),
    connector_sessions: BTreeMap::new(),
};

impl History {
    /// Sums connector rows into station days.
    pub fn from_connector_days(rows: impl IntoIterator<Item = ConnectorDay>) -> Self {
        let mut days: BTreeMap<i64, (DayAggregate, Vec<f64>)> = BTreeMap::new();
        for row in rows {
            if row.sessions == 0 {
                continue;
            }
            let (day, plateaus) = days.entry(row.day).or_default();
            day.sessions += row.sessions;
            day.energy_kwh += row.energy_kwh;
            day.zero_sessions += row.zero_sessions;
            day.anomalous_sessions += row.anomalous_sessions;
            *day.connector_sessions.entry(row.connector_id).or_default() += row.sessions;
            plateaus.extend(row.plateaus_kw);
        }
        let days = days
            .into_iter()
            .map(|(number, (mut day, mut plateaus))| {
                plateaus.sort_by(f64::total_cmp);
                day.plateaus_kw = plateaus;
                (number, day)
            })
            .collect();
        Self {
            days,
            common: BTreeMap::new(),
        }
    }

    /// Station days as given; plateaus need not be sorted.
    pub fn from_days(days: impl IntoIterator<Item = (i64, DayAggregate)>) -> Self {
        Self {
            days: days
                .into_iter()
                .filter(|(_, d)| d.sessions > 0)
                .map(|(n, mut d)| {
                    d.plateaus_kw.sort_by(f64::total_cmp);
                    (n, d)
                })
                .collect(),
            common: BTreeMap::new(),
        }
    }

    /// The network's day: delivering sessions, zero sessions and energy
    /// summed over the stations.
    pub fn network(stations: &[History]) -> Self {
        let mut days: BTreeMap<i64, DayAggregate> = BTreeMap::new();
        for (number, d) in stations.iter().flat_map(|s| s.days.iter()) {
            let day = days.entry(*number).or_default();
            day.sessions += d.sessions;
            day.zero_sessions += d.zero_sessions;
            day.energy_kwh += d.energy_kwh;
        }
        Self {
            days,
            common: BTreeMap::new(),
        }
    }

    /// The network's common movement on the days it fell, for this
    /// station: `(day, factor)`, factors in (0, 1].
    pub fn with_common_movement(mut self, factors: impl IntoIterator<Item = (i64, f64)>) -> Self {
        self.common = factors.into_iter().collect();
        self
    }

    /// The network's common movement on `day`: 1 unless the network fell.
    pub fn common(&self, day: i64) -> f64 {
        self.common.get(&day).copied().unwrap_or(1.0)
    }

    /// The days the network fell, which stay out of baselines.
    pub(crate) fn moved_days(&self) -> impl Iterator<Item = i64> + '_ {
        self.common.keys().copied()
    }

    /// Counts the zero sessions of each day as events from their starts
    /// (microseconds, any order): a zero session that starts within
    /// `retry_gap_micros` of the previous one at the station continues its
    /// event (a driver retrying, on either connector). An event belongs to
    /// the day it started; a day's count never exceeds its zero sessions.
    /// The starts must cover every day of the history.
    pub fn with_zero_starts(mut self, starts: &[i64], retry_gap_micros: i64) -> Self {
        let mut sorted = starts.to_vec();
        sorted.sort_unstable();
        let mut events: BTreeMap<i64, u32> = BTreeMap::new();
        let mut previous: Option<i64> = None;
        for &start in &sorted {
            if previous.is_none_or(|p| start - p > retry_gap_micros) {
                *events.entry(crate::day_of_micros(start)).or_default() += 1;
            }
            previous = Some(start);
        }
        for (number, day) in self.days.iter_mut() {
            if day.zero_sessions > 0 {
                let n = events.get(number).copied().unwrap_or(0);
                // 0 when they all continue the previous day's last event.
                day.zero_events = Some(n.min(day.zero_sessions));
            }
        }
        self
    }

    /// The day's aggregate; empty when nothing happened.
    pub fn day(&self, day: i64) -> &DayAggregate {
        self.days.get(&day).unwrap_or(&EMPTY)
    }

    /// The first day with sessions.
    pub fn first_day(&self) -> Option<i64> {
        self.days.keys().next().copied()
    }

    pub fn last_day(&self) -> Option<i64> {
        self.days.keys().next_back().copied()
    }
}
