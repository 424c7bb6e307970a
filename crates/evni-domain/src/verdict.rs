//! What the analysis says about a session.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The anomaly classification of analysis.md §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AnomalyCategory {
    KwhDecrease,
    EnergyJump,
    ZeroSession,
    EnergyPit,
    ChargingExpected,
    PowerSpike,
    MeterStuck,
    SocDecrease,
    DataGap,
    UnusualPattern,
}

impl AnomalyCategory {
    pub const ALL: [AnomalyCategory; 10] = [
        Self::KwhDecrease,
        Self::EnergyJump,
        Self::ZeroSession,
        Self::EnergyPit,
        Self::ChargingExpected,
        Self::PowerSpike,
        Self::MeterStuck,
        Self::SocDecrease,
        Self::DataGap,
        Self::UnusualPattern,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::KwhDecrease => "KWH_DECREASE",
            Self::EnergyJump => "ENERGY_JUMP",
            Self::ZeroSession => "ZERO_SESSION",
            Self::EnergyPit => "ENERGY_PIT",
            Self::ChargingExpected => "CHARGING_EXPECTED",
            Self::PowerSpike => "POWER_SPIKE",
            Self::MeterStuck => "METER_STUCK",
            Self::SocDecrease => "SOC_DECREASE",
            Self::DataGap => "DATA_GAP",
            Self::UnusualPattern => "UNUSUAL_PATTERN",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(text))
    }

    /// Categories that put the bill at risk: confirmed as incidents when
    /// detected with high confidence (analysis.md §4).
    pub fn is_billing_critical(self) -> bool {
        matches!(self, Self::KwhDecrease | Self::EnergyJump | Self::MeterStuck)
    }
}

impl std::fmt::Display for AnomalyCategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which part of the pipeline found an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// A deterministic rule of analysis.md §3.
    Rule,
    /// The CSAR-2 autoencoder.
    Csar2,
    /// The CSAR-C-2 classifier.
    CsarC2,
}

impl Detector {
    /// The serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Detector::Rule => "rule",
            Detector::Csar2 => "csar2",
            Detector::CsarC2 => "csar_c2",
        }
    }
}

/// Inclusive, 0-based bucket indices relative to the analysed window's t0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BucketRange {
    pub start_unit: u32,
    pub end_unit: u32,
}

/// Timestamps of the first and last readings that evidence an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimeRange {
    pub start_timestamp: Option<DateTime<Utc>>,
    pub end_timestamp: Option<DateTime<Utc>>,
}

/// One detected anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Anomaly {
    pub category: AnomalyCategory,
    /// Severity, 0..1.
    pub score: f64,
    /// How sure the detector is, 0..1.
    pub confidence: f64,
    pub bucket_range: BucketRange,
    pub time_range: Option<TimeRange>,
    /// Which detector found it.
    pub detector: Detector,
}

/// Analysis state of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Fewer than three meter values: not analysed yet.
    Pending,
    /// Analysed.
    Active,
    /// The data could not be analysed (e.g. no usable measurand).
    Failed,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Active, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// An operator's judgement of a session's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackLabel {
    /// A confirmed incident: the session is flagged `is_incident`.
    Incident,
    /// The verdict flagged something that was not wrong.
    FalsePositive,
    /// The session was normal.
    Normal,
}

impl FeedbackLabel {
    pub const ALL: [FeedbackLabel; 3] = [Self::Incident, Self::FalsePositive, Self::Normal];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incident => "incident",
            Self::FalsePositive => "false_positive",
            Self::Normal => "normal",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == text)
    }
}

#[cfg(test)]
mod detector_tests {
    use super::Detector;

    #[test]
    fn as_str_is_the_serialised_name() {
        for d in [Detector::Rule, Detector::Csar2, Detector::CsarC2] {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
    }
}
