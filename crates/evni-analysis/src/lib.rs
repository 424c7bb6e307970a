//! Session analysis (analysis.md §2–§4): window the readings, build the
//! bucket series, run the detectors and derive the verdict. Pure functions,
//! no I/O, so the API, the worker, `evni eval` and benchmarks share them.

pub mod eval;
pub mod features;
pub mod rules;
mod score;
pub mod series;
pub mod summary;
mod verdict;
pub mod window;

use evni_domain::{Anomaly, Measurand, Micros, Reading};

use crate::series::Series;
pub use crate::summary::{summarize, SessionSummary};

/// Analysis runs once a session holds this many meter values.
pub const MIN_READINGS: usize = 3;

/// Facts about the charging point that the analysis may use.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SessionContext {
    /// Rated power of the connector in kW, from station metadata.
    pub rated_power_kw: Option<f64>,
}

/// The analysis of one session window.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub anomalies: Vec<Anomaly>,
    /// Highest anomaly score, or the data-derived normality score when
    /// nothing was detected.
    pub anomaly_score: f64,
    /// Confidence in the verdict, either way.
    pub anomaly_confidence: f64,
    /// Buckets from 0 to the last reading's bucket (1..=24).
    pub sequence_length: u32,
    /// t0 of the analysed window.
    pub window_start: Micros,
    /// Readings inside the analysed window.
    pub readings_analyzed: usize,
}

/// What analysing a session produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Fewer than [`MIN_READINGS`] meter values.
    Pending,
    Analyzed(Analysis),
    /// The data could not be analysed; the reason is shown to the client.
    Failed {
        reason: String,
    },
}

/// Analyses a session. `readings` must be sorted by timestamp (ties in any
/// order) and hold at most one reading per [`evni_domain::ReadingKey`].
pub fn analyze(readings: &[Reading], context: &SessionContext) -> Outcome {
    if readings.len() < MIN_READINGS {
        return Outcome::Pending;
    }
    let window = window::window(readings);
    analyze_series(&Series::build(window, context), window, context)
}

/// What the service derives from one write of a session, from one series:
/// the verdict's outcome, the models' features and the station-health
/// summary. Building the series is most of the cost of each; on the live
/// PATCH path it is built once, not three times.
#[derive(Debug, Clone)]
pub struct Examination {
    pub outcome: Outcome,
    /// As [`features::extract_from_readings`]: `Some` when analysed.
    pub features: Option<features::SessionFeatures>,
    /// As [`summarize`].
    pub summary: Option<SessionSummary>,
}

/// [`analyze`], [`features::extract_from_readings`] and [`summarize`] of
/// the same readings in one pass.
pub fn examine(readings: &[Reading], context: &SessionContext) -> Examination {
    if readings.is_empty() {
        return Examination {
            outcome: Outcome::Pending,
            features: None,
            summary: None,
        };
    }
    let window = window::window(readings);
    let series = Series::build(window, context);
    let summary = Some(summary::from_series(readings, window, &series));
    if readings.len() < MIN_READINGS {
        return Examination {
            outcome: Outcome::Pending,
            features: None,
            summary,
        };
    }
    let features = series.has_usable_signal().then(|| features::extract(&series));
    Examination {
        outcome: analyze_series(&series, window, context),
        features,
        summary,
    }
}

/// The rules and the verdict over the series of `window`.
fn analyze_series(series: &Series, window: &[Reading], context: &SessionContext) -> Outcome {
    if !series.has_usable_signal() {
        return Outcome::Failed {
            reason: unusable_reason(window),
        };
    }
    let mut anomalies = Vec::new();
    let mut closeness: f64 = 0.0;
    for rule in &rules::ALL {
        closeness = closeness.max(rule.detect(series, context, &mut anomalies));
    }
    anomalies.sort_by_key(|a| (a.bucket_range.start_unit, a.bucket_range.end_unit, a.category));
    let (anomaly_score, anomaly_confidence) = verdict::verdict(series, &anomalies, closeness);
    Outcome::Analyzed(Analysis {
        anomalies,
        anomaly_score,
        anomaly_confidence,
        sequence_length: series.sequence_length as u32,
        window_start: series.t0,
        readings_analyzed: window.len(),
    })
}

/// Explains to the client why nothing could be analysed.
fn unusable_reason(window: &[Reading]) -> String {
    let mut present: Vec<Measurand> = window.iter().map(|r| r.measurand).collect();
    present.sort();
    present.dedup();
    let names: Vec<&str> = present.iter().map(|m| m.as_str()).collect();
    format!(
        "no usable measurand: the last 6 h hold only {} readings; analysis needs \
         Energy.Active.Import.Register, Power.Active.Import (or Current.Import with Voltage) or SoC",
        names.join(", ")
    )
}
