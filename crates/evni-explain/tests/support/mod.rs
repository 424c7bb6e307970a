//! Hand-built sessions, analysed by evni-analysis, explained by evni-explain.

#![allow(dead_code)]

use std::collections::BTreeMap;

use evni_analysis::{analyze, Outcome, SessionContext};
use evni_domain::{
    Anomaly, AnomalyCategory, Location, Measurand, Micros, Reading, SessionStatus, UnitOfMeasure,
};
use evni_explain::Input;
use evni_store::{ConnectorRow, Verdict};

/// 2026-02-27T10:00:00Z.
pub const T0: Micros = 1_772_186_400_000_000;
pub const MINUTE: Micros = 60_000_000;

pub fn reading(minute: i64, measurand: Measurand, unit: UnitOfMeasure, value: f64) -> Reading {
    Reading {
        ts: T0 + minute * MINUTE,
        measurand,
        phase: None,
        location: Location::Outlet,
        unit: Some(unit),
        value,
        context: None,
    }
}

pub fn kwh(minute: i64, value: f64) -> Reading {
    reading(
        minute,
        Measurand::EnergyActiveImportRegister,
        UnitOfMeasure::KWh,
        value,
    )
}

pub fn kw(minute: i64, value: f64) -> Reading {
    reading(minute, Measurand::PowerActiveImport, UnitOfMeasure::KW, value)
}

pub fn soc(minute: i64, value: f64) -> Reading {
    reading(minute, Measurand::SoC, UnitOfMeasure::Percent, value)
}

/// One reading a minute for `minutes`: power `power(m)` (kW) and the
/// register (kWh, from 100) that integrates it.
pub fn profile(minutes: i64, power: impl Fn(i64) -> f64) -> Vec<Reading> {
    let mut register = 100.0;
    let mut out = Vec::new();
    for m in 0..minutes {
        let p = power(m);
        out.push(kwh(m, register));
        out.push(kw(m, p));
        register += p / 60.0;
    }
    out
}

pub fn sorted(mut readings: Vec<Reading>) -> Vec<Reading> {
    readings.sort_by_key(|r| (r.ts, r.measurand));
    readings
}

/// The verdict the engine would store for these readings.
pub fn verdict_of(readings: &[Reading], context: &SessionContext) -> Verdict {
    match analyze(readings, context) {
        Outcome::Analyzed(a) => Verdict {
            status: SessionStatus::Active,
            status_reason: None,
            is_anomaly: Some(a.anomaly_score >= 0.5),
            anomaly_score: Some(a.anomaly_score),
            anomaly_confidence: Some(a.anomaly_confidence),
            is_incident: Some(
                a.anomalies
                    .iter()
                    .any(|x| x.category.is_billing_critical() && x.confidence >= 0.9),
            ),
            is_recurring: Some(false),
            anomalies: a.anomalies,
            sequence_length: Some(a.sequence_length),
            analyzed_at: Some(T0),
        },
        Outcome::Pending => Verdict::pending(),
        Outcome::Failed { reason } => Verdict {
            status: SessionStatus::Failed,
            status_reason: Some(reason),
            ..Verdict::pending()
        },
    }
}

pub struct Case {
    pub readings: Vec<Reading>,
    pub verdict: Verdict,
    pub context: SessionContext,
    pub station: Vec<ConnectorRow>,
}

impl Case {
    pub fn new(readings: Vec<Reading>) -> Self {
        Self::with_context(readings, SessionContext::default())
    }

    pub fn with_context(readings: Vec<Reading>, context: SessionContext) -> Self {
        let readings = sorted(readings);
        let verdict = verdict_of(&readings, &context);
        Self {
            readings,
            verdict,
            context,
            station: Vec::new(),
        }
    }

    pub fn input(&self) -> Input<'_> {
        Input {
            readings: &self.readings,
            verdict: &self.verdict,
            connector_id: Some("1"),
            context: self.context,
            station: &self.station,
        }
    }

    pub fn explanation(&self) -> String {
        evni_explain::explain(&self.input()).text
    }

    pub fn ask(&self, question: &str) -> evni_explain::Grounded {
        evni_explain::ask(&self.input(), question)
    }

    /// The single anomaly of `category`; fails when it is missing.
    pub fn anomaly(&self, category: AnomalyCategory) -> &Anomaly {
        self.verdict
            .anomalies
            .iter()
            .find(|a| a.category == category)
            .unwrap_or_else(|| panic!("no {category} in {:?}", self.verdict.anomalies))
    }
}

pub fn connector(id: &str, total: u64, categories: &[(&str, u64)]) -> ConnectorRow {
    ConnectorRow {
        connector_id: id.into(),
        total_sessions: total,
        anomalous_sessions: categories.iter().map(|c| c.1).max().unwrap_or(0),
        categories: categories
            .iter()
            .map(|(c, n)| (c.to_string(), *n))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// `HH:MM` of a verdict timestamp.
pub fn hm(ts: Option<chrono::DateTime<chrono::Utc>>) -> String {
    ts.unwrap().format("%H:%M").to_string()
}

#[track_caller]
pub fn assert_has(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}
