//! The facts of one session, taken from its readings, its verdict and the
//! station's history. Every number the explainer writes comes from here.

use evni_analysis::series::{
    PowerSamples, Series, DECREASE_MIN_KWH, DELIVERING_KW, RATED_JUMP_FACTOR, UNRATED_JUMP_KW,
};
use evni_analysis::window::{window, BUCKET};
use evni_analysis::SessionContext;
use evni_domain::{
    Anomaly, AnomalyCategory, Detector, Location, Measurand, Micros, Phase, Reading, SessionStatus,
};
use evni_store::{ConnectorRow, Verdict};

const MICROS_PER_HOUR: f64 = 3.6e9;

/// What the explainer is given: a session, its verdict and its station's
/// per-connector category counts.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Every reading of the session, sorted by time.
    pub readings: &'a [Reading],
    pub verdict: &'a Verdict,
    pub connector_id: Option<&'a str>,
    /// The rated power the analysis used, if any.
    pub context: SessionContext,
    /// The station's connectors with their sessions per category.
    pub station: &'a [ConnectorRow],
}

#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub status: SessionStatus,
    pub status_reason: Option<String>,
    pub reading_count: usize,
    /// First and last reading.
    pub start: Option<Micros>,
    pub end: Option<Micros>,
    /// t0 of the analysed window, and whether the session was longer than
    /// the window (only its last 6 h were analysed).
    pub window_start: Option<Micros>,
    pub windowed: bool,
    pub energy: Option<Energy>,
    pub power: Option<Power>,
    pub soc: Option<Soc>,
    pub charging: Option<Charging>,
    pub is_anomaly: Option<bool>,
    pub anomaly_score: Option<f64>,
    pub anomaly_confidence: Option<f64>,
    pub is_incident: Option<bool>,
    pub is_recurring: Option<bool>,
    pub anomalies: Vec<AnomalyFacts>,
    pub station: Vec<StationCategory>,
    pub station_sessions: u64,
    pub station_anomalous_sessions: u64,
    pub connector_id: Option<String>,
    pub rated_power_kw: Option<f64>,
    pub measurands: Vec<Measurand>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergySource {
    /// Plausible increases of the energy register.
    Register,
    /// Reported power integrated over time.
    Power,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Energy {
    pub delivered_kwh: f64,
    pub source: EnergySource,
    /// First and last register reading (kWh).
    pub register_first_kwh: Option<f64>,
    pub register_last_kwh: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerSource {
    /// Power.Active.Import readings.
    Reported,
    /// Current × voltage.
    CurrentVoltage,
    /// The energy register's increase between readings.
    Register,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Power {
    pub peak_kw: f64,
    pub peak_ts: Micros,
    pub source: PowerSource,
    /// Energy delivered over the session's duration.
    pub average_kw: Option<f64>,
    /// The analysis's typical charging power (plateau) of the window.
    pub typical_kw: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Soc {
    pub first: f64,
    pub first_ts: Micros,
    pub last: f64,
    pub last_ts: Micros,
    pub min: f64,
    pub max: f64,
}

/// When energy flowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Charging {
    /// First reading showing energy flowing.
    pub first_flow: Micros,
    /// Last reading showing energy flowing.
    pub last_flow: Micros,
    /// The first reading after that one, where nothing flowed any more.
    pub stopped_by: Option<Micros>,
    /// Whether power readings (else the register) tell this.
    pub from_power: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyFacts {
    pub anomaly: Anomaly,
    /// Evidence span: the anomaly's time range, else its buckets.
    pub from_ts: Micros,
    pub to_ts: Micros,
    pub detail: Detail,
}

/// The figures behind an anomaly, measured in the readings of its range.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    RegisterDrop {
        before_kwh: f64,
        after_kwh: f64,
        before_ts: Micros,
        after_ts: Micros,
    },
    RegisterJump {
        from_kwh: f64,
        to_kwh: f64,
        from_ts: Micros,
        to_ts: Micros,
        implied_kw: f64,
        threshold_kw: f64,
    },
    Zero {
        delivered_kwh: f64,
        span: Micros,
    },
    Pit {
        lowest_kw: f64,
        typical_kw: f64,
        before_kw: Option<f64>,
        after_kw: Option<f64>,
    },
    Stopped {
        soc: f64,
        soc_ts: Micros,
        typical_kw: Option<f64>,
        /// Highest bucket power from the stop to the end.
        after_kw: Option<f64>,
    },
    Spike {
        peak_kw: f64,
        peak_ts: Micros,
        typical_kw: Option<f64>,
        rated_kw: Option<f64>,
    },
    Stuck {
        register_kwh: f64,
        span: Micros,
        mean_kw: Option<f64>,
        soc_rise: Option<f64>,
    },
    SocDrop {
        from: f64,
        to: f64,
        from_ts: Micros,
        to_ts: Micros,
    },
    Gap {
        from_ts: Micros,
        to_ts: Micros,
        median_interval: Micros,
    },
    /// Nothing more specific could be measured.
    None,
}

/// How often a category of this session shows at its station.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StationCategory {
    pub category: AnomalyCategory,
    /// Sessions at the station (all connectors) with the category,
    /// this one included.
    pub station_sessions: u64,
    /// Of those, on this session's connector.
    pub connector_sessions: Option<u64>,
}

/// The readings of one stream: the first reading of the measurand fixes
/// location and phase, as the analysis does.
fn stream(readings: &[Reading], measurand: Measurand) -> Vec<(Micros, f64)> {
    let mut key: Option<(Location, Option<Phase>)> = None;
    readings
        .iter()
        .filter(|r| r.measurand == measurand)
        .filter(|r| *key.get_or_insert((r.location, r.phase)) == (r.location, r.phase))
        .map(|r| (r.ts, r.normalized()))
        .collect()
}

fn power_location(readings: &[Reading]) -> Option<Location> {
    readings
        .iter()
        .find(|r| {
            matches!(
                r.measurand,
                Measurand::PowerActiveImport | Measurand::CurrentImport | Measurand::Voltage
            )
        })
        .map(|r| r.location)
}

impl Facts {
    pub fn gather(input: &Input<'_>) -> Facts {
        let readings = input.readings;
        let verdict = input.verdict;
        let start = readings.first().map(|r| r.ts);
        let end = readings.last().map(|r| r.ts);
        let register = stream(readings, Measurand::EnergyActiveImportRegister);
        let soc_stream = stream(readings, Measurand::SoC);
        let location = power_location(readings);
        let power_samples: Vec<(Micros, f64)> = location
            .map(|l| PowerSamples::new(readings, l).collect())
            .unwrap_or_default();
        let reported = location.is_some_and(|l| {
            readings
                .iter()
                .any(|r| r.measurand == Measurand::PowerActiveImport && r.location == l)
        });
        let jump_kw = input
            .context
            .rated_power_kw
            .filter(|kw| *kw > 0.0)
            .map_or(UNRATED_JUMP_KW, |kw| kw * RATED_JUMP_FACTOR);

        let energy = energy(&register, &power_samples, jump_kw);
        let duration_h = match (start, end) {
            (Some(s), Some(e)) if e > s => Some((e - s) as f64 / MICROS_PER_HOUR),
            _ => None,
        };

        let win = window(readings);
        let series = (!win.is_empty()).then(|| Series::build(win, &input.context));
        let typical_kw = series.as_ref().and_then(|s| s.plateau_kw);

        let power =
            peak(&power_samples, reported, &register, jump_kw).map(|(peak_kw, peak_ts, source)| Power {
                peak_kw,
                peak_ts,
                source,
                average_kw: energy.zip(duration_h).map(|(e, h)| e.delivered_kwh / h),
                typical_kw,
            });

        let anomalies = verdict
            .anomalies
            .iter()
            .map(|a| {
                anomaly_facts(
                    a,
                    series.as_ref(),
                    &register,
                    &soc_stream,
                    &power_samples,
                    readings,
                    jump_kw,
                    input.context.rated_power_kw,
                )
            })
            .collect();

        let mut station: Vec<StationCategory> = verdict
            .categories()
            .into_iter()
            .map(|category| StationCategory {
                category,
                station_sessions: input
                    .station
                    .iter()
                    .map(|c| c.categories.get(category.as_str()).copied().unwrap_or(0))
                    .sum(),
                connector_sessions: input.connector_id.and_then(|id| {
                    input
                        .station
                        .iter()
                        .find(|c| c.connector_id == id)
                        .map(|c| c.categories.get(category.as_str()).copied().unwrap_or(0))
                }),
            })
            .collect();
        station.retain(|s| s.station_sessions > 0 || s.connector_sessions.is_some());

        let mut measurands: Vec<Measurand> = readings.iter().map(|r| r.measurand).collect();
        measurands.sort();
        measurands.dedup();

        Facts {
            status: verdict.status,
            status_reason: verdict.status_reason.clone(),
            reading_count: readings.len(),
            start,
            end,
            window_start: series.as_ref().map(|s| s.t0),
            windowed: win.len() < readings.len(),
            energy,
            power,
            soc: soc(&soc_stream),
            charging: charging(&power_samples, &register, jump_kw),
            is_anomaly: verdict.is_anomaly,
            anomaly_score: verdict.anomaly_score,
            anomaly_confidence: verdict.anomaly_confidence,
            is_incident: verdict.is_incident,
            is_recurring: verdict.is_recurring,
            anomalies,
            station,
            station_sessions: input.station.iter().map(|c| c.total_sessions).sum(),
            station_anomalous_sessions: input.station.iter().map(|c| c.anomalous_sessions).sum(),
            connector_id: input.connector_id.map(str::to_owned),
            rated_power_kw: input.context.rated_power_kw,
            measurands,
        }
    }

    pub fn duration(&self) -> Option<Micros> {
        Some(self.end? - self.start?)
    }

    /// The anomalies found, most severe first.
    pub fn by_severity(&self) -> Vec<&AnomalyFacts> {
        let mut out: Vec<&AnomalyFacts> = self.anomalies.iter().collect();
        out.sort_by(|a, b| b.anomaly.score.total_cmp(&a.anomaly.score));
        out
    }

    pub fn station_for(&self, category: AnomalyCategory) -> Option<&StationCategory> {
        self.station.iter().find(|s| s.category == category)
    }
}

/// Register steps that count as delivery: up, and not faster than a charger
/// can deliver (the part above the previous high-water mark after a glitch).
fn register_steps(
    register: &[(Micros, f64)],
    jump_kw: f64,
) -> impl Iterator<Item = (Micros, Micros, f64)> + '_ {
    let mut high_water = register.first().map_or(0.0, |r| r.1);
    register.windows(2).filter_map(move |w| {
        let ((t1, v1), (t2, v2)) = (w[0], w[1]);
        let hours = (t2 - t1) as f64 / MICROS_PER_HOUR;
        let mut increase = v2 - v1;
        if increase / hours.max(1e-12) > jump_kw && v2 >= high_water {
            increase = v2 - high_water;
        }
        high_water = high_water.max(v2);
        let plausible =
            increase > 0.0 && v1 - v2 <= DECREASE_MIN_KWH && hours > 0.0 && increase / hours <= jump_kw;
        plausible.then_some((t1, t2, increase))
    })
}

fn energy(register: &[(Micros, f64)], power: &[(Micros, f64)], jump_kw: f64) -> Option<Energy> {
    let from_register =
        (register.len() >= 2).then(|| register_steps(register, jump_kw).map(|s| s.2).sum::<f64>());
    let from_power = (power.len() >= 2).then(|| {
        power
            .windows(2)
            .map(|w| w[0].1.max(0.0) * (w[1].0 - w[0].0) as f64 / MICROS_PER_HOUR)
            .sum::<f64>()
    });
    // A stuck register under-reports: power that was measured counts too,
    // as in the analysis.
    let (delivered_kwh, source) = match (from_register, from_power) {
        // A margin keeps rounding from flipping the source.
        (Some(r), Some(p)) if p > r * 1.01 + 0.01 => (p, EnergySource::Power),
        (Some(r), _) => (r, EnergySource::Register),
        (None, Some(p)) => (p, EnergySource::Power),
        (None, None) => return None,
    };
    Some(Energy {
        delivered_kwh,
        source,
        register_first_kwh: register.first().map(|r| r.1),
        register_last_kwh: register.last().map(|r| r.1),
    })
}

fn peak(
    power: &[(Micros, f64)],
    reported: bool,
    register: &[(Micros, f64)],
    jump_kw: f64,
) -> Option<(f64, Micros, PowerSource)> {
    if let Some((ts, kw)) = first_max(power.iter().copied()) {
        let source = if reported {
            PowerSource::Reported
        } else {
            PowerSource::CurrentVoltage
        };
        return Some((kw, ts, source));
    }
    first_max(
        register_steps(register, jump_kw)
            .map(|(t1, t2, kwh)| (t2, kwh / ((t2 - t1) as f64 / MICROS_PER_HOUR))),
    )
    .map(|(ts, kw)| (kw, ts, PowerSource::Register))
}

/// The earliest sample with the highest value.
fn first_max(samples: impl Iterator<Item = (Micros, f64)>) -> Option<(Micros, f64)> {
    samples.fold(None, |best, s| match best {
        Some(b) if b.1 >= s.1 => Some(b),
        _ => Some(s),
    })
}

fn soc(stream: &[(Micros, f64)]) -> Option<Soc> {
    let (&(first_ts, first), &(last_ts, last)) = (stream.first()?, stream.last()?);
    Some(Soc {
        first,
        first_ts,
        last,
        last_ts,
        min: stream.iter().map(|s| s.1).fold(f64::INFINITY, f64::min),
        max: stream.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max),
    })
}

fn charging(power: &[(Micros, f64)], register: &[(Micros, f64)], jump_kw: f64) -> Option<Charging> {
    let (flows, from_power): (Vec<Micros>, bool) = if power.len() >= 2 {
        (
            power
                .iter()
                .filter(|p| p.1 > DELIVERING_KW)
                .map(|p| p.0)
                .collect(),
            true,
        )
    } else {
        (
            register_steps(register, jump_kw)
                .filter(|s| s.2 > DECREASE_MIN_KWH)
                .map(|s| s.1)
                .collect(),
            false,
        )
    };
    let (&first_flow, &last_flow) = (flows.first()?, flows.last()?);
    let stopped_by = if from_power {
        power.iter().map(|p| p.0).find(|&t| t > last_flow)
    } else {
        register.iter().map(|r| r.0).find(|&t| t > last_flow)
    };
    Some(Charging {
        first_flow: if from_power {
            first_flow
        } else {
            // The register rose between the reading before and this one.
            register
                .iter()
                .rev()
                .map(|r| r.0)
                .find(|&t| t < first_flow)
                .unwrap_or(first_flow)
        },
        last_flow,
        stopped_by,
        from_power,
    })
}

#[allow(clippy::too_many_arguments)]
fn anomaly_facts(
    anomaly: &Anomaly,
    series: Option<&Series<'_>>,
    register: &[(Micros, f64)],
    soc: &[(Micros, f64)],
    power: &[(Micros, f64)],
    readings: &[Reading],
    jump_kw: f64,
    rated_kw: Option<f64>,
) -> AnomalyFacts {
    let range = anomaly.bucket_range;
    let t0 = series.map_or(0, |s| s.t0);
    let time = anomaly.time_range;
    let from_ts = time
        .and_then(|t| t.start_timestamp)
        .map(|t| t.timestamp_micros())
        .unwrap_or(t0 + range.start_unit as Micros * BUCKET);
    let to_ts = time
        .and_then(|t| t.end_timestamp)
        .map(|t| t.timestamp_micros())
        .unwrap_or(t0 + (range.end_unit as Micros + 1) * BUCKET);
    let inside = |t: Micros| t >= from_ts && t <= to_ts;
    let pairs = |s: &[(Micros, f64)]| -> Vec<((Micros, f64), (Micros, f64))> {
        s.windows(2)
            .filter(|w| inside(w[0].0) && inside(w[1].0))
            .map(|w| (w[0], w[1]))
            .collect()
    };
    let (start_b, end_b) = (range.start_unit as usize, range.end_unit as usize);
    let bucket_power = |b: usize| series.and_then(|s| s.buckets.get(b)).and_then(|b| b.power_kw);
    let last_b = series.map_or(0, |s| s.sequence_length.saturating_sub(1));

    let detail = match anomaly.category {
        AnomalyCategory::KwhDecrease => pairs(register)
            .into_iter()
            .max_by(|a, b| (a.0 .1 - a.1 .1).total_cmp(&(b.0 .1 - b.1 .1)))
            .filter(|(a, b)| a.1 > b.1)
            .map_or(Detail::None, |(a, b)| Detail::RegisterDrop {
                before_kwh: a.1,
                after_kwh: b.1,
                before_ts: a.0,
                after_ts: b.0,
            }),
        AnomalyCategory::EnergyJump => pairs(register)
            .into_iter()
            .filter(|(a, b)| b.0 > a.0 && b.1 > a.1)
            .map(|(a, b)| (a, b, (b.1 - a.1) / ((b.0 - a.0) as f64 / MICROS_PER_HOUR)))
            .max_by(|x, y| x.2.total_cmp(&y.2))
            .map_or(Detail::None, |(a, b, rate)| Detail::RegisterJump {
                from_kwh: a.1,
                to_kwh: b.1,
                from_ts: a.0,
                to_ts: b.0,
                implied_kw: rate,
                threshold_kw: jump_kw,
            }),
        AnomalyCategory::ZeroSession => match series {
            Some(s) => Detail::Zero {
                delivered_kwh: s.delivered_kwh,
                span: s.last_ts - s.t0,
            },
            None => Detail::None,
        },
        AnomalyCategory::EnergyPit => {
            let lowest = (start_b..=end_b)
                .filter_map(bucket_power)
                .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.min(p))));
            let max_of = |bs: &mut dyn Iterator<Item = usize>| {
                bs.filter_map(bucket_power)
                    .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))))
            };
            match (lowest, series.and_then(|s| s.plateau_kw)) {
                (Some(lowest_kw), Some(typical_kw)) => Detail::Pit {
                    lowest_kw,
                    typical_kw,
                    before_kw: max_of(&mut (0..start_b)),
                    after_kw: max_of(&mut (end_b + 1..=last_b)),
                },
                _ => Detail::None,
            }
        }
        AnomalyCategory::ChargingExpected => match soc.iter().rev().find(|s| s.0 <= to_ts).or(soc.last()) {
            Some(&(soc_ts, soc)) => Detail::Stopped {
                soc,
                soc_ts,
                typical_kw: series.and_then(|s| s.plateau_kw),
                after_kw: (start_b..=end_b)
                    .filter_map(bucket_power)
                    .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m: f64| m.max(p)))),
            },
            None => Detail::None,
        },
        AnomalyCategory::PowerSpike => power
            .iter()
            .filter(|p| inside(p.0))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(Detail::None, |&(peak_ts, peak_kw)| Detail::Spike {
                peak_kw,
                peak_ts,
                typical_kw: series.and_then(|s| s.plateau_kw),
                rated_kw,
            }),
        AnomalyCategory::MeterStuck => match register.iter().rev().find(|r| r.0 <= to_ts) {
            Some(&(_, register_kwh)) => {
                let in_range: Vec<f64> = power.iter().filter(|p| inside(p.0)).map(|p| p.1).collect();
                let socs: Vec<f64> = soc.iter().filter(|s| inside(s.0)).map(|s| s.1).collect();
                Detail::Stuck {
                    register_kwh,
                    span: to_ts - from_ts,
                    mean_kw: (!in_range.is_empty())
                        .then(|| in_range.iter().sum::<f64>() / in_range.len() as f64),
                    soc_rise: (socs.len() >= 2).then(|| socs[socs.len() - 1] - socs[0]),
                }
            }
            None => Detail::None,
        },
        AnomalyCategory::SocDecrease => pairs(soc)
            .into_iter()
            .max_by(|a, b| (a.0 .1 - a.1 .1).total_cmp(&(b.0 .1 - b.1 .1)))
            .filter(|(a, b)| a.1 > b.1)
            .map_or(Detail::None, |(a, b)| Detail::SocDrop {
                from: a.1,
                to: b.1,
                from_ts: a.0,
                to_ts: b.0,
            }),
        AnomalyCategory::DataGap => {
            let mut stamps: Vec<Micros> = readings.iter().map(|r| r.ts).filter(|&t| inside(t)).collect();
            stamps.dedup();
            stamps
                .windows(2)
                .max_by_key(|w| w[1] - w[0])
                .map_or(Detail::None, |w| Detail::Gap {
                    from_ts: w[0],
                    to_ts: w[1],
                    median_interval: series.map_or(0, |s| s.median_interval),
                })
        }
        AnomalyCategory::UnusualPattern => Detail::None,
    };
    AnomalyFacts {
        anomaly: anomaly.clone(),
        from_ts,
        to_ts,
        detail,
    }
}

/// Who found an anomaly, for people.
pub fn detector_name(detector: Detector) -> &'static str {
    match detector {
        Detector::Rule => "a deterministic rule",
        Detector::Csar2 => "the CSAR-2 model",
        Detector::CsarC2 => "the CSAR-C-2 classifier",
    }
}
