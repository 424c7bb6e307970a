//! SHADE, the station health anomaly detection engine (analysis.md §6).
//!
//! Input: a station's day aggregates (sessions, energy, zero and anomalous
//! sessions, plateau power, per connector). Output: the station anomalies
//! whose episodes start in the evaluated window, and a verdict for the
//! latest day. Pure functions, no I/O: the service, `evni eval-stations`
//! and the tests share them.
//!
//! Every day is compared with the station's own baseline: the
//! [`Params::baseline_days`] before it, adjusted to the day's weekday
//! (same weekday in recent weeks). A day that looks wrong is a
//! *candidate*; consecutive candidate days form an *episode*, and the
//! episode becomes an anomaly once the evidence accumulated over its days
//! is significant (a Poisson or binomial tail below [`Params::alpha`], or a
//! deficit of [`Params::z_min`] standard deviations: robust ones for energy,
//! a rank test of the sessions' plateau power against the baseline's for
//! power). So a busy
//! station that goes silent is flagged on the first day, a quiet one after
//! the days needed to tell silence from chance. An episode is reported once,
//! under its first day (`affected_period`), however long it lasts.

mod baseline;
mod detect;
mod history;
mod network;
mod stats;

pub use detect::{assess, assess_since, Assessment, DayExpectation, StationAnomaly};
pub use history::{ConnectorDay, DayAggregate, History};
pub use network::{assess_network, CommonMovement, NetworkAssessment, NetworkEvent, NETWORK_DROP};

/// The six station anomaly types of analysis.md §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnomalyType {
    EnergyDrop,
    StationSilent,
    ConnectorOutage,
    ZeroSessionSurge,
    PowerDegradation,
    AnomalyRateSpike,
}

impl AnomalyType {
    pub const ALL: [AnomalyType; 6] = [
        AnomalyType::EnergyDrop,
        AnomalyType::StationSilent,
        AnomalyType::ConnectorOutage,
        AnomalyType::ZeroSessionSurge,
        AnomalyType::PowerDegradation,
        AnomalyType::AnomalyRateSpike,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyType::EnergyDrop => "energy_drop",
            AnomalyType::StationSilent => "station_silent",
            AnomalyType::ConnectorOutage => "connector_outage",
            AnomalyType::ZeroSessionSurge => "zero_session_surge",
            AnomalyType::PowerDegradation => "power_degradation",
            AnomalyType::AnomalyRateSpike => "anomaly_rate_spike",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// Detection parameters. The defaults are what `evni eval-stations`
/// measures; see the README for the figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Days before a day that form its baseline.
    pub baseline_days: i64,
    /// A station is judged once it has this many days of history.
    pub min_history_days: i64,
    /// Days evaluated by one run, ending at the `as_of` day; episodes that
    /// start in them are reported. Longer than any episode can stay a
    /// candidate against a rolling baseline, so an episode keeps its first day.
    pub window_days: i64,
    /// Days scanned before the first reported day: episodes that started
    /// there, and the days they leave out of baselines, are seen alike
    /// whatever day a run starts on.
    pub lookback_days: i64,
    /// Days judged by one run at most: a run over imported history is
    /// bounded, and the next run goes on where it stopped.
    pub max_days_per_run: i64,
    /// Weight, in weeks, pulling the weekday factor towards 1: with four
    /// weeks of history the same-weekday values weigh 4 / (4 + this).
    pub weekday_shrink_weeks: f64,
    /// Significance of the count tests (silence, outage, shares).
    pub alpha: f64,
    /// Significance of energy and power deficits, in robust standard
    /// deviations: the one-sided normal quantile of `alpha` (0.001), so
    /// every detector judges at the same significance.
    pub z_min: f64,
    /// A day is an energy_drop candidate below this share of expected energy.
    pub energy_drop_ratio: f64,
    /// Floor of the relative day-to-day spread of energy.
    pub min_energy_cv: f64,
    /// Relative spread of one session's energy. A day of `n` sessions
    /// varies at least as a sum of a Poisson number of them:
    /// `sqrt((1 + cv²) / n)`, which a short baseline may not show.
    pub session_energy_cv: f64,
    /// connector_outage judges connectors expecting at least this many sessions a day.
    pub outage_min_expected_sessions: f64,
    /// ...while the other connectors keep at least this share of theirs.
    pub outage_others_ratio: f64,
    /// A share (zero or anomalous sessions) is a candidate at this many
    /// times its baseline, and at least `share_min`...
    pub share_ratio: f64,
    pub share_min: f64,
    /// ...with at least this many such sessions.
    pub share_min_sessions: u32,
    /// An episode of such sessions (zero: events) is an anomaly with at
    /// least this many, however unlikely fewer were: nobody sends a
    /// technician for two failed starts.
    pub count_min_events: u32,
    /// Prior of the baseline shares, as sessions at the prior share.
    pub share_prior_sessions: f64,
    pub zero_prior_share: f64,
    pub anomalous_prior_share: f64,
    /// Prior of how clumped zero-session events and anomalous sessions come
    /// (variance over mean of a day's count; 1 is Poisson)...
    pub count_dispersion_prior: f64,
    /// ...weighing as this many baseline days.
    pub count_dispersion_prior_days: f64,
    /// A day is a power_degradation candidate below this share of the usual plateau.
    pub power_drop_ratio: f64,
    /// Days (before the baseline's anchor) over which the rate of rare
    /// zero-session events is read.
    pub rare_rate_days: i64,
    /// Zero sessions starting within this many minutes of the previous one
    /// at the station are retries: one event.
    pub retry_gap_minutes: i64,
    /// Days with fewer sessions with a plateau are not judged for power.
    pub power_min_sessions: u32,
    /// Power is judged once the baseline holds this many sessions with a plateau.
    pub power_min_baseline_sessions: usize,
    /// The network fell on a day below this share of its expected sessions
    /// (and a station, for the breadth of a drop, below this share of its own)...
    pub network_drop_ratio: f64,
    /// ...expecting at least this many sessions.
    pub network_min_expected_sessions: f64,
    /// A drop is an event once at least this share of the stations
    /// expecting `network_station_min_expected` sessions over its days fell...
    pub network_min_share: f64,
    pub network_station_min_expected: f64,
    /// ...and at least this many; a network of fewer stations has no events.
    pub network_min_stations: usize,
    /// The lowest common movement a station's day is judged against (a
    /// floor, so a day of a near-total stop does not scale up a baseline).
    pub network_min_factor: f64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            baseline_days: 28,
            min_history_days: 14,
            window_days: 28,
            lookback_days: 120,
            max_days_per_run: 92,
            weekday_shrink_weeks: 0.5,
            alpha: 1e-3,
            z_min: 3.09,
            energy_drop_ratio: 0.6,
            min_energy_cv: 0.1,
            session_energy_cv: 0.7,
            outage_min_expected_sessions: 1.0,
            outage_others_ratio: 0.5,
            share_ratio: 3.0,
            share_min: 0.2,
            share_min_sessions: 2,
            count_min_events: 3,
            share_prior_sessions: 50.0,
            zero_prior_share: 0.03,
            anomalous_prior_share: 0.05,
            count_dispersion_prior: 1.0,
            count_dispersion_prior_days: 7.0,
            power_drop_ratio: 0.75,
            rare_rate_days: 91,
            retry_gap_minutes: 15,
            power_min_sessions: 3,
            power_min_baseline_sessions: 20,
            network_drop_ratio: 0.5,
            network_min_expected_sessions: 5.0,
            network_min_share: 0.5,
            network_station_min_expected: 2.0,
            network_min_stations: 3,
            network_min_factor: 0.1,
        }
    }
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
pub fn day_label(day: i64) -> String {
    chrono::DateTime::from_timestamp(day * 86_400, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The day number of `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(
        date.and_hms_opt(0, 0, 0)?
            .and_utc()
            .timestamp()
            .div_euclid(86_400),
    )
}

/// The day number of an instant in microseconds.
pub fn day_of_micros(micros: i64) -> i64 {
    micros.div_euclid(86_400_000_000)
}
