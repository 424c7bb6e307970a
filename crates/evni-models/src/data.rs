//! Training and evaluation data: simulated sessions turned into readings
//! exactly as the API would store them, then into bucket features.

use evni_analysis::eval::Label;
use evni_analysis::features::{self, SessionFeatures};
use evni_analysis::SessionContext;
use evni_domain::{Measurand, MeterValueIn, Reading, MICROS_PER_MINUTE};
use evni_sim::{SessionKind, SimConfig, SimulatedSession};

use crate::ModelError;

/// One simulated session, prepared.
#[derive(Debug, Clone)]
pub struct Sample {
    pub readings: Vec<Reading>,
    pub context: SessionContext,
    pub labels: Vec<Label>,
    pub kind: SessionKind,
}

impl Sample {
    pub fn features(&self) -> Option<SessionFeatures> {
        features::extract_from_readings(&self.readings, &self.context)
    }
}

/// Validates a simulated session's meter values as the API does, merged by
/// identity (sorted, last write wins), with the rated power it carries.
pub fn prepare(session: &SimulatedSession) -> Result<Sample, ModelError> {
    let json =
        serde_json::to_string(&session.request.meter_values).map_err(|e| ModelError::Data(e.to_string()))?;
    let values: Vec<MeterValueIn> =
        serde_json::from_str(&json).map_err(|e| ModelError::Data(e.to_string()))?;
    // Simulated history: nothing is "in the future".
    let now = i64::MAX / 2;
    let mut readings = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        let reading = value
            .validate(&format!("meter_values[{i}]"), now)
            .map_err(|errors| {
                ModelError::Data(format!("{}: {}", session.request.session_id, errors[0].problem))
            })?;
        readings.push(reading);
    }
    let rated_power_kw = session
        .request
        .metadata
        .as_ref()
        .and_then(|m| m.get("rated_power_kw"))
        .and_then(|v| v.as_f64())
        .filter(|kw| *kw > 0.0);
    Ok(Sample {
        readings: normalize(readings),
        context: SessionContext { rated_power_kw },
        labels: session
            .labels
            .iter()
            .map(|l| Label {
                category: l.category,
                start_unit: l.start_unit,
                end_unit: l.end_unit,
            })
            .collect(),
        kind: session.kind,
    })
}

/// Sorted by identity, the last reading of an identity kept (as the engine).
fn normalize(readings: Vec<Reading>) -> Vec<Reading> {
    let mut sorted: Vec<(usize, Reading)> = readings.into_iter().enumerate().collect();
    sorted.sort_by_key(|(i, r)| (r.key(), *i));
    let mut out: Vec<Reading> = Vec::with_capacity(sorted.len());
    for (_, r) in sorted {
        match out.last_mut() {
            Some(last) if last.key() == r.key() => *last = r,
            _ => out.push(r),
        }
    }
    out
}

/// Simulates and prepares `config.sessions` sessions on `threads` threads;
/// the result is in session order, whatever the thread count.
pub fn simulate(config: &SimConfig, threads: usize) -> Result<Vec<Sample>, ModelError> {
    let threads = threads.max(1);
    let n = config.sessions;
    let chunk = n.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|from| {
                let config = config.clone();
                scope.spawn(move || {
                    let stations = evni_sim::stations(&config);
                    (from..(from + chunk).min(n))
                        .map(|i| prepare(&evni_sim::simulate_session_with(&config, &stations, i)))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| ModelError::Data("a simulation thread panicked".into()))??,
            );
        }
        Ok(out)
    })
}

/// How many threads to use for data preparation and evaluation.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The same session with an idle tail: after its last reading the vehicle
/// stays plugged in for `minutes` more at zero power, sampled at the
/// session's median interval. analysis.md §3 says such a tail is normal
/// however long it is, after a full battery (SoC >= 90 %) or without SoC;
/// the simulator draws tails of at most 1 h (DC) or 4 h (AC), so training
/// data gets longer ones this way. `None` when the SoC says not full.
pub fn with_idle_tail(sample: &Sample, minutes: i64) -> Option<Sample> {
    let soc = sample
        .readings
        .iter()
        .rev()
        .find(|r| r.measurand == Measurand::SoC)
        .map(|r| r.normalized());
    if soc.is_some_and(|s| s < 90.0) {
        return None;
    }
    let last_ts = sample.readings.last()?.ts;
    let interval = median_interval(sample)?;
    let times = (1..).map(|k| last_ts + k * interval);
    let until = last_ts + minutes * MICROS_PER_MINUTE;
    Some(idle_readings(sample, last_ts, times.take_while(|t| *t <= until)))
}

/// The same session with a delayed start: the vehicle is plugged in
/// `minutes` before charging begins, at zero power, sampled at the
/// session's median interval (analysis.md §3: normal). The simulator
/// delays AC charges by up to 90 min but DC charges by minutes only, so
/// training data gets delays of any charge this way.
pub fn with_delayed_start(sample: &Sample, minutes: i64) -> Option<Sample> {
    let first_ts = sample.readings.first()?.ts;
    let interval = median_interval(sample)?;
    let from = first_ts - minutes * MICROS_PER_MINUTE;
    let times = (1..).map(|k| first_ts - k * interval);
    Some(idle_readings(sample, first_ts, times.take_while(|t| *t >= from)))
}

fn median_interval(sample: &Sample) -> Option<i64> {
    let mut times: Vec<i64> = sample.readings.iter().map(|r| r.ts).collect();
    times.dedup();
    let mut gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    Some(gaps.get(gaps.len() / 2).copied()?.max(MICROS_PER_MINUTE / 2))
}

/// The session plus, at each of `times`, the readings of its instant
/// `like_ts` with power and current at zero (registers and SoC held).
fn idle_readings(sample: &Sample, like_ts: i64, times: impl Iterator<Item = i64>) -> Sample {
    let like: Vec<Reading> = sample
        .readings
        .iter()
        .filter(|r| r.ts == like_ts)
        .copied()
        .collect();
    let mut readings = sample.readings.clone();
    for ts in times {
        for r in &like {
            let mut r = *r;
            r.ts = ts;
            if matches!(
                r.measurand,
                Measurand::PowerActiveImport | Measurand::CurrentImport | Measurand::PowerOffered
            ) {
                r.value = 0.0;
            }
            readings.push(r);
        }
    }
    Sample {
        readings: normalize(readings),
        ..sample.clone()
    }
}
