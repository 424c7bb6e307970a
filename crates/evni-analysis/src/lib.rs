//! Session analysis (analysis.md §2–§4): window the readings, build the
//! bucket series, run the detectors and derive the verdict. Pure functions,
//! no I/O, so the API, the worker, `evni eval` and benchmarks share them.

use evni_domain::{Anomaly, Micros, Reading};

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
    Failed { reason: String },
}

/// Analyses a session. `readings` must be sorted by timestamp (ties in any
/// order) and hold at most one reading per [`evni_domain::ReadingKey`].
pub fn analyze(readings: &[Reading], context: &SessionContext) -> Outcome {
    let _ = (readings, context);
    Outcome::Pending
}
