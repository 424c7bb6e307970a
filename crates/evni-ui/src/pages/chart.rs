//! The chart data of a session page: energy register, power and SoC in
//! analysis units, the 15-minute buckets of the analysed window and each
//! anomaly's range. Bounded, so a session of a million readings still makes
//! a small page.

use evni_analysis::window::{self, BUCKET, BUCKETS};
use evni_domain::{Anomaly, Detector, Location, Measurand, Micros, Reading};
use serde::Serialize;

/// Most points drawn per series; longer sessions are thinned evenly.
const MAX_POINTS: usize = 2000;

#[derive(Serialize, Default)]
pub struct ChartData {
    /// Unix seconds.
    pub x: Vec<f64>,
    /// kWh.
    pub energy: Vec<Option<f64>>,
    /// kW.
    pub power: Vec<Option<f64>>,
    /// %.
    pub soc: Vec<Option<f64>>,
    /// Bucket edges of the analysed window, unix seconds.
    pub buckets: Vec<f64>,
    pub anomalies: Vec<Range>,
}

#[derive(Serialize)]
pub struct Range {
    pub start: f64,
    pub end: f64,
    pub label: String,
}

#[derive(Clone, Copy)]
enum Series {
    Energy,
    Power,
    Soc,
}

/// Which series a reading draws, if any: the session totals only (no
/// per-phase values).
fn series(r: &Reading) -> Option<Series> {
    if r.phase.is_some() {
        return None;
    }
    match r.measurand {
        Measurand::EnergyActiveImportRegister if r.location != Location::Ev => Some(Series::Energy),
        Measurand::PowerActiveImport if r.location != Location::Ev => Some(Series::Power),
        Measurand::SoC => Some(Series::Soc),
        _ => None,
    }
}

fn seconds(micros: Micros) -> f64 {
    micros as f64 / 1e6
}

/// `readings` sorted by time, as the store returns them.
pub fn chart(readings: &[Reading], anomalies: &[Anomaly]) -> ChartData {
    let drawn: Vec<(&Reading, Series)> = readings
        .iter()
        .filter_map(|r| series(r).map(|s| (r, s)))
        .collect();
    let mut data = ChartData::default();
    let mut times: Vec<Micros> = drawn.iter().map(|(r, _)| r.ts).collect();
    times.dedup();
    let step = times.len().div_ceil(MAX_POINTS).max(1);
    let kept: Vec<Micros> = times.iter().copied().step_by(step).collect();
    data.x = kept.iter().map(|&t| seconds(t)).collect();
    data.energy = vec![None; kept.len()];
    data.power = vec![None; kept.len()];
    data.soc = vec![None; kept.len()];
    for (reading, series) in drawn {
        // Thinned out: a reading between two kept times is not drawn.
        let Ok(i) = kept.binary_search(&reading.ts) else {
            continue;
        };
        let slot = match series {
            Series::Energy => &mut data.energy[i],
            Series::Power => &mut data.power[i],
            Series::Soc => &mut data.soc[i],
        };
        *slot = Some(reading.normalized());
    }
    let analysed = window::window(readings);
    if let Some(first) = analysed.first() {
        let t0 = first.ts;
        data.buckets = (0..=BUCKETS as i64).map(|i| seconds(t0 + i * BUCKET)).collect();
        data.anomalies = anomalies
            .iter()
            .map(|a| Range {
                start: seconds(t0 + i64::from(a.bucket_range.start_unit) * BUCKET),
                end: seconds(t0 + (i64::from(a.bucket_range.end_unit) + 1) * BUCKET),
                label: format!(
                    "{} · score {:.2} · {}",
                    a.category.as_str(),
                    a.score,
                    detector_name(a.detector)
                ),
            })
            .collect();
    }
    data
}

/// The chart data as JSON safe inside a `<script type="application/json">`.
pub fn embeddable_json(data: &ChartData) -> String {
    serde_json::to_string(data)
        .expect("chart data serialises")
        .replace('<', "\\u003c")
}

/// A detector as the API spells it.
pub fn detector_name(detector: Detector) -> &'static str {
    match detector {
        Detector::Rule => "rule",
        Detector::Csar2 => "csar2",
        Detector::CsarC2 => "csar_c2",
    }
}
