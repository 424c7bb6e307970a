//! `evni simulate --stations N --days D` and `evni eval-stations FILE`:
//! station histories with labelled station faults, and how well SHADE
//! finds them.
//!
//! The file has one JSON line per station and day:
//! `{"station_id", "day": "YYYY-MM-DD", "connectors": [{"connector_id",
//! "sessions", "energy_kwh", "zero_sessions", "anomalous_sessions",
//! "plateaus_kw": [...]}], "labels": [{"anomaly_type", "connector_id"?}]}`,
//! the same aggregates the service keeps per station, day and connector.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use anyhow::{bail, Context};
use evni_shade::{assess, day_label, parse_day, AnomalyType, ConnectorDay, History, Params};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// First simulated day: a Monday.
const START: &str = "2026-01-05";
/// Faults start once a baseline exists.
const FIRST_FAULT_DAY: i64 = 30;

#[derive(Debug, Serialize, Deserialize)]
struct Line {
    station_id: String,
    day: String,
    connectors: Vec<ConnectorLine>,
    #[serde(default)]
    labels: Vec<LabelLine>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ConnectorLine {
    connector_id: String,
    sessions: u32,
    energy_kwh: f64,
    zero_sessions: u32,
    anomalous_sessions: u32,
    plateaus_kw: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LabelLine {
    anomaly_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    connector_id: Option<String>,
}

/// A fault placed on a station.
#[derive(Debug, Clone)]
struct Fault {
    kind: AnomalyType,
    from: i64,
    to: i64,
    connector: Option<usize>,
    /// Severity drawn for the fault (a factor or a share).
    level: f64,
}

/// A simulated station: its size, connectors, cars and habits.
struct Station {
    sessions_per_day: f64,
    weekday: [f64; 7],
    connector_weights: Vec<f64>,
    dc: bool,
    rated_kw: f64,
    zero_share: f64,
    anomalous_share: f64,
    faults: Vec<Fault>,
}

fn normal(rng: &mut impl Rng) -> f64 {
    // Box-Muller.
    let (u1, u2): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn poisson(rng: &mut impl Rng, lambda: f64) -> u32 {
    if lambda > 60.0 {
        return (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-lambda).exp();
    let (mut k, mut p) = (0, 1.0);
    loop {
        p *= rng.random::<f64>();
        if p <= limit {
            return k;
        }
        k += 1;
    }
}

fn duration(kind: AnomalyType, rng: &mut impl Rng) -> i64 {
    match kind {
        AnomalyType::StationSilent => rng.random_range(1..=3),
        AnomalyType::ConnectorOutage => rng.random_range(3..=7),
        AnomalyType::EnergyDrop => rng.random_range(3..=6),
        AnomalyType::ZeroSessionSurge | AnomalyType::AnomalyRateSpike => rng.random_range(2..=4),
        AnomalyType::PowerDegradation => rng.random_range(3..=7),
    }
}

impl Station {
    fn new(index: usize, days: i64, rng: &mut impl Rng) -> Self {
        let connectors = rng.random_range(2..=4);
        let dc = rng.random_bool(0.5);
        let weekend = rng.random_range(0.55..0.85);
        let mut weekday = [1.0; 7];
        for (i, w) in weekday.iter_mut().enumerate() {
            *w = if i >= 5 {
                weekend
            } else {
                rng.random_range(0.9..1.1)
            };
        }
        // Four stations in five get two faults of different types, in
        // turn over the six types; the fifth stays healthy.
        let mut faults = Vec::new();
        if index % 5 != 4 && days >= FIRST_FAULT_DAY + 20 {
            let half = (days - FIRST_FAULT_DAY) / 2;
            for slot in 0..2 {
                let kind = AnomalyType::ALL[(2 * index + slot) % 6];
                let length = duration(kind, rng);
                let earliest = FIRST_FAULT_DAY + slot as i64 * half;
                let latest = (earliest + half - length - 7).max(earliest);
                let from = rng.random_range(earliest..=latest);
                faults.push(Fault {
                    kind,
                    from,
                    to: from + length - 1,
                    connector: (kind == AnomalyType::ConnectorOutage)
                        .then(|| rng.random_range(0..connectors)),
                    level: match kind {
                        AnomalyType::EnergyDrop => rng.random_range(0.15..0.4),
                        AnomalyType::PowerDegradation => rng.random_range(0.4..0.6),
                        AnomalyType::ZeroSessionSurge | AnomalyType::AnomalyRateSpike => {
                            rng.random_range(0.3..0.6)
                        }
                        _ => 0.0,
                    },
                });
            }
        }
        Station {
            sessions_per_day: rng.random_range(10.0..30.0),
            weekday,
            connector_weights: (0..connectors).map(|_| rng.random_range(0.7..1.3)).collect(),
            dc,
            rated_kw: if dc {
                [50.0, 150.0][rng.random_range(0..2)]
            } else {
                22.0
            },
            zero_share: rng.random_range(0.01..0.04),
            anomalous_share: rng.random_range(0.02..0.06),
            faults,
        }
    }

    fn fault(&self, day: i64, kind: AnomalyType) -> Option<&Fault> {
        self.faults
            .iter()
            .find(|f| f.kind == kind && (f.from..=f.to).contains(&day))
    }

    /// Simulated day `day` (0 = the first, a Monday): sessions drawn and
    /// aggregated per connector.
    fn day(&self, day: i64, rng: &mut impl Rng) -> Vec<ConnectorLine> {
        let mut connectors: Vec<ConnectorLine> = (0..self.connector_weights.len())
            .map(|i| ConnectorLine {
                connector_id: (i + 1).to_string(),
                ..Default::default()
            })
            .collect();
        if self.fault(day, AnomalyType::StationSilent).is_some() {
            return connectors;
        }
        let weather = (0.1 * normal(rng)).exp();
        let expected = self.sessions_per_day * self.weekday[day.rem_euclid(7) as usize] * weather;
        let outage = self
            .fault(day, AnomalyType::ConnectorOutage)
            .and_then(|f| f.connector);
        let total: f64 = self.connector_weights.iter().sum();
        for _ in 0..poisson(rng, expected) {
            let mut pick = rng.random::<f64>() * total;
            let mut c = 0;
            while pick > self.connector_weights[c] && c + 1 < self.connector_weights.len() {
                pick -= self.connector_weights[c];
                c += 1;
            }
            if Some(c) == outage {
                // Half the drivers find another connector, half leave.
                if rng.random_bool(0.5) {
                    continue;
                }
                c = (c + 1 + rng.random_range(0..self.connector_weights.len() - 1))
                    % self.connector_weights.len();
            }
            let zero_share = self
                .fault(day, AnomalyType::ZeroSessionSurge)
                .map_or(self.zero_share, |f| f.level);
            let anomalous_share = self
                .fault(day, AnomalyType::AnomalyRateSpike)
                .map_or(self.anomalous_share, |f| f.level);
            let line = &mut connectors[c];
            line.sessions += 1;
            if rng.random_bool(zero_share) {
                line.zero_sessions += 1;
                line.anomalous_sessions += 1;
                continue;
            }
            let median_kwh = if self.dc { 28.0 } else { 12.0 };
            let mut energy = median_kwh * (0.5 * normal(rng)).exp();
            // The car's acceptance limits the plateau below the rating.
            let car_kw: f64 = if self.dc {
                rng.random_range(40.0..160.0)
            } else {
                [3.7, 7.4, 11.0, 11.0, 22.0][rng.random_range(0..5)]
            };
            let mut plateau = car_kw.min(self.rated_kw) * rng.random_range(0.9..1.0);
            if let Some(f) = self.fault(day, AnomalyType::EnergyDrop) {
                energy *= f.level;
            }
            if let Some(f) = self.fault(day, AnomalyType::PowerDegradation) {
                plateau *= f.level;
                energy *= 0.9;
            }
            line.energy_kwh += energy;
            line.plateaus_kw.push((plateau * 100.0).round() / 100.0);
            if rng.random_bool(anomalous_share) {
                line.anomalous_sessions += 1;
            }
        }
        for line in &mut connectors {
            line.energy_kwh = (line.energy_kwh * 1000.0).round() / 1000.0;
            line.plateaus_kw.sort_by(f64::total_cmp);
        }
        connectors
    }

    fn labels(&self, day: i64) -> Vec<LabelLine> {
        self.faults
            .iter()
            .filter(|f| (f.from..=f.to).contains(&day))
            .map(|f| LabelLine {
                anomaly_type: f.kind.as_str().to_owned(),
                connector_id: f.connector.map(|c| (c + 1).to_string()),
            })
            .collect()
    }
}

/// Writes `stations` × `days` station-days with labelled faults.
pub fn simulate(stations: usize, days: i64, seed: u64, out: Option<&Path>) -> anyhow::Result<()> {
    anyhow::ensure!(
        stations > 0 && days > 0,
        "--stations and --days must be at least 1"
    );
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let start = parse_day(START).expect("a valid start day");
    let mut writer: Box<dyn Write> = match out {
        Some(path) => Box::new(BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let mut faults = 0;
    for s in 0..stations {
        let station = Station::new(s, days, &mut rng);
        faults += station.faults.len();
        for d in 0..days {
            let line = Line {
                station_id: format!("SIM-ST-{:03}", s + 1),
                day: day_label(start + d),
                connectors: station.day(d, &mut rng),
                labels: station.labels(d),
            };
            serde_json::to_writer(&mut writer, &line)?;
            writer.write_all(b"\n")?;
        }
    }
    writer.flush()?;
    eprintln!(
        "simulated {stations} stations × {days} days with {faults} labelled station faults (seed {seed})"
    );
    Ok(())
}

/// A labelled fault episode read back from the file.
#[derive(Debug)]
struct Episode {
    station: String,
    kind: AnomalyType,
    connector: Option<String>,
    from: i64,
    to: i64,
    detected_on: Option<i64>,
}

/// An alert as the service would send it: first reported by the run of `reported`.
#[derive(Debug)]
struct Alert {
    station: String,
    kind: AnomalyType,
    connector: Option<String>,
    first_day: i64,
    last_day: i64,
    reported: i64,
}

/// Replays every station day by day, as the scheduler would after each
/// day's data is complete, and scores the alerts against the labels.
pub fn evaluate(path: &Path) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut rows: BTreeMap<String, Vec<ConnectorDay>> = BTreeMap::new();
    let mut labels: BTreeMap<String, Vec<(i64, LabelLine)>> = BTreeMap::new();
    let mut span: Option<(i64, i64)> = None;
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line).with_context(|| format!("line {}", number + 1))?;
        let Some(day) = parse_day(&parsed.day) else {
            bail!("line {}: '{}' is not a YYYY-MM-DD day", number + 1, parsed.day);
        };
        span = Some(span.map_or((day, day), |(a, b)| (a.min(day), b.max(day))));
        let station_rows = rows.entry(parsed.station_id.clone()).or_default();
        for c in parsed.connectors {
            station_rows.push(ConnectorDay {
                day,
                connector_id: c.connector_id,
                sessions: c.sessions,
                energy_kwh: c.energy_kwh,
                zero_sessions: c.zero_sessions,
                anomalous_sessions: c.anomalous_sessions,
                plateaus_kw: c.plateaus_kw,
            });
        }
        let station_labels = labels.entry(parsed.station_id).or_default();
        for label in parsed.labels {
            station_labels.push((day, label));
        }
    }
    let Some((first, last)) = span else {
        bail!("{} holds no station days", path.display());
    };
    let params = Params::default();
    let mut episodes = Vec::new();
    let mut alerts = Vec::new();
    let stations = rows.len();
    for (station, station_rows) in rows {
        let history = History::from_connector_days(station_rows);
        episodes.extend(episodes_of(
            &station,
            labels.remove(&station).unwrap_or_default(),
        )?);
        let mut seen: HashMap<(AnomalyType, Option<String>, i64), usize> = HashMap::new();
        for as_of in first..=last {
            for a in assess(&history, as_of, &params).anomalies {
                let key = (a.anomaly_type, a.connector_id.clone(), a.first_day);
                match seen.get(&key) {
                    Some(&i) => {
                        let alert: &mut Alert = &mut alerts[i];
                        alert.last_day = alert.last_day.max(a.last_day);
                    }
                    None => {
                        seen.insert(key, alerts.len());
                        alerts.push(Alert {
                            station: station.clone(),
                            kind: a.anomaly_type,
                            connector: a.connector_id,
                            first_day: a.first_day,
                            last_day: a.last_day,
                            reported: as_of,
                        });
                    }
                }
            }
        }
    }
    report(&mut episodes, &alerts, (last - first + 1) as f64, stations.max(1));
    Ok(())
}

/// Consecutive labelled days of one type (and connector) at a station.
fn episodes_of(station: &str, mut labels: Vec<(i64, LabelLine)>) -> anyhow::Result<Vec<Episode>> {
    labels.sort_by(|a, b| {
        (&a.1.anomaly_type, &a.1.connector_id, a.0).cmp(&(&b.1.anomaly_type, &b.1.connector_id, b.0))
    });
    let mut episodes: Vec<Episode> = Vec::new();
    for (day, label) in labels {
        let Some(kind) = AnomalyType::parse(&label.anomaly_type) else {
            bail!("unknown anomaly_type '{}' in the labels", label.anomaly_type);
        };
        match episodes.last_mut() {
            Some(e) if e.kind == kind && e.connector == label.connector_id && e.to + 1 == day => e.to = day,
            _ => episodes.push(Episode {
                station: station.to_owned(),
                kind,
                connector: label.connector_id,
                from: day,
                to: day,
                detected_on: None,
            }),
        }
    }
    Ok(episodes)
}

fn overlaps(a: (i64, i64), b: (i64, i64)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

fn report(episodes: &mut [Episode], alerts: &[Alert], days: f64, stations: usize) {
    println!(
        "SHADE on {stations} stations × {days} days ({} labelled faults, {} alerts)",
        episodes.len(),
        alerts.len()
    );
    println!(
        "{:<20} {:>6} {:>6} {:>7} {:>7} {:>9} {:>6} {:>10} {:>9}",
        "anomaly_type",
        "faults",
        "found",
        "recall",
        "alerts",
        "precision",
        "false",
        "delay_mean",
        "delay_max"
    );
    let mut false_alerts = 0;
    let mut false_by_kind: HashMap<AnomalyType, usize> = HashMap::new();
    for alert in alerts {
        let explained = episodes.iter().any(|e| {
            e.station == alert.station && overlaps((e.from, e.to), (alert.first_day, alert.last_day))
        });
        if !explained {
            false_alerts += 1;
            *false_by_kind.entry(alert.kind).or_default() += 1;
        }
    }
    for kind in AnomalyType::ALL {
        let mut true_alerts = 0;
        let of_kind: Vec<&Alert> = alerts.iter().filter(|a| a.kind == kind).collect();
        for alert in &of_kind {
            let mut hit = false;
            for e in episodes.iter_mut().filter(|e| {
                e.kind == kind
                    && e.station == alert.station
                    && (kind != AnomalyType::ConnectorOutage || e.connector == alert.connector)
                    && overlaps((e.from, e.to), (alert.first_day, alert.last_day))
            }) {
                hit = true;
                e.detected_on = Some(e.detected_on.map_or(alert.reported, |d| d.min(alert.reported)));
            }
            true_alerts += usize::from(hit);
        }
        let faults: Vec<&Episode> = episodes.iter().filter(|e| e.kind == kind).collect();
        let delays: Vec<i64> = faults
            .iter()
            .filter_map(|e| e.detected_on.map(|d| d - e.from))
            .collect();
        let ratio = |a: usize, b: usize| if b == 0 { f64::NAN } else { a as f64 / b as f64 };
        println!(
            "{:<20} {:>6} {:>6} {:>7.3} {:>7} {:>9.3} {:>6} {:>10.2} {:>9}",
            kind.as_str(),
            faults.len(),
            delays.len(),
            ratio(delays.len(), faults.len()),
            of_kind.len(),
            ratio(true_alerts, of_kind.len()),
            false_by_kind.get(&kind).copied().unwrap_or(0),
            delays.iter().sum::<i64>() as f64 / delays.len().max(1) as f64,
            delays.iter().max().map_or("-".into(), |d| d.to_string()),
        );
    }
    let quarters = stations as f64 * days / 90.0;
    println!(
        "false station alerts (no labelled fault at that station then): {false_alerts}, \
         {:.3} per station per quarter",
        false_alerts as f64 / quarters
    );
    println!(
        "precision counts alerts of the type that overlap a fault of that type; an alert caused by \
         another fault (energy_drop during a zero_session_surge) is not false above"
    );
    println!(
        "delay: days from a fault's first day to the run that first reported it; 0 = the first run \
         after the first faulty day's data is complete"
    );
}
