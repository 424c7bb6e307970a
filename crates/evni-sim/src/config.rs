//! What to simulate: how many sessions, from which seed, and which kinds.

use chrono::{DateTime, TimeZone, Utc};
use evni_domain::AnomalyCategory;
use rand::Rng;
use serde::{Serialize, Serializer};

use crate::novel::NovelFault;

/// The physical categories the simulator can inject (UNUSUAL_PATTERN is the
/// model's verdict, not a physical fault).
pub const FAULT_CATEGORIES: [AnomalyCategory; 9] = [
    AnomalyCategory::KwhDecrease,
    AnomalyCategory::EnergyJump,
    AnomalyCategory::ZeroSession,
    AnomalyCategory::EnergyPit,
    AnomalyCategory::ChargingExpected,
    AnomalyCategory::PowerSpike,
    AnomalyCategory::MeterStuck,
    AnomalyCategory::SocDecrease,
    AnomalyCategory::DataGap,
];

/// Whether a session is normal or carries one injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKind {
    Clean,
    Fault(AnomalyCategory),
    /// A fault no rule names, labelled UNUSUAL_PATTERN (see [`crate::novel`]).
    Novel(NovelFault),
}

impl SessionKind {
    /// Every kind the simulator produces: clean, then the nine faults.
    pub fn all() -> Vec<SessionKind> {
        std::iter::once(SessionKind::Clean)
            .chain(FAULT_CATEGORIES.map(SessionKind::Fault))
            .collect()
    }

    /// The novel fault kinds, outside the default mix.
    pub fn novel() -> Vec<SessionKind> {
        NovelFault::ALL.map(SessionKind::Novel).to_vec()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Clean => "clean",
            SessionKind::Fault(category) => category.as_str(),
            SessionKind::Novel(fault) => fault.as_str(),
        }
    }

    /// Parses `clean`, a fault category name or a novel kind (case-insensitive).
    pub fn parse(text: &str) -> Option<SessionKind> {
        if text.eq_ignore_ascii_case("clean") {
            return Some(SessionKind::Clean);
        }
        if let Some(fault) = NovelFault::parse(text) {
            return Some(SessionKind::Novel(fault));
        }
        AnomalyCategory::parse(text)
            .filter(|c| FAULT_CATEGORIES.contains(c))
            .map(SessionKind::Fault)
    }
}

impl std::fmt::Display for SessionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SessionKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Simulation settings. Session `i` depends only on `seed`, `stations`,
/// `start`, `span_days`, `id_prefix` and the kind weights, not on `sessions`.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub sessions: usize,
    pub seed: u64,
    /// Size of the station pool; stations are drawn with a skew so that
    /// some see many sessions.
    pub stations: usize,
    /// Share of sessions carrying a fault, spread evenly over the allowed
    /// fault kinds.
    pub fault_share: f64,
    /// Share of sessions carrying a novel fault (UNUSUAL_PATTERN), spread
    /// evenly over the novel kinds. 0 (the default) leaves them out; with 0,
    /// sessions are identical to a configuration without novel faults.
    pub novel_share: f64,
    /// Restricts the output to these kinds; `None` (or an empty list) allows all.
    pub kinds: Option<Vec<SessionKind>>,
    /// Sessions start between `start` and `start + span_days`.
    pub start: DateTime<Utc>,
    pub span_days: u32,
    /// Session ids are `<id_prefix>-<index>`.
    pub id_prefix: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            sessions: 1000,
            seed: 42,
            stations: 40,
            fault_share: 0.5,
            novel_share: 0.0,
            kinds: None,
            // In the past of any plausible server clock: the API refuses
            // readings more than 24 h in the future.
            start: Utc
                .with_ymd_and_hms(2026, 5, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            span_days: 120,
            id_prefix: "SIM".to_string(),
        }
    }
}

impl SimConfig {
    pub fn new(sessions: usize, seed: u64) -> Self {
        SimConfig {
            sessions,
            seed,
            ..SimConfig::default()
        }
    }

    /// Draws the kind of one session from the configured weights.
    pub(crate) fn pick_kind(&self, rng: &mut impl Rng) -> SessionKind {
        let novel_share = self.novel_share.clamp(0.0, 1.0);
        let allowed = self.kinds.clone().filter(|k| !k.is_empty()).unwrap_or_else(|| {
            let mut all = SessionKind::all();
            if novel_share > 0.0 {
                all.extend(SessionKind::novel());
            }
            all
        });
        let fault_share = self.fault_share.clamp(0.0, 1.0);
        let weight = |kind: &SessionKind| match kind {
            SessionKind::Clean => (1.0 - fault_share - novel_share).max(0.0),
            SessionKind::Fault(_) => fault_share / FAULT_CATEGORIES.len() as f64,
            SessionKind::Novel(_) => novel_share / NovelFault::ALL.len() as f64,
        };
        let mut weights: Vec<f64> = allowed.iter().map(weight).collect();
        if weights.iter().sum::<f64>() <= 0.0 {
            // The share excludes every allowed kind: fall back to an even spread.
            weights = vec![1.0; allowed.len()];
        }
        let total: f64 = weights.iter().sum();
        let mut pick = rng.random::<f64>() * total;
        for (kind, w) in allowed.iter().zip(&weights) {
            if pick < *w {
                return *kind;
            }
            pick -= w;
        }
        allowed.last().copied().unwrap_or(SessionKind::Clean)
    }
}
