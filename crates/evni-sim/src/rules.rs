//! A plain reading of the physical thresholds of analysis.md §3, used to
//! accept generated sessions: a clean session must trip none of them, a
//! faulty one exactly its own category, at its labelled buckets. It is a
//! reference for the simulator and its tests, not the product's detector.

use std::collections::BTreeMap;

use chrono::DateTime;
use evni_domain::{AnomalyCategory as Cat, Measurand, UnitOfMeasure};

use crate::output::{Label, SessionRequest};
use crate::window::Window;

/// The register may rise at most this fast without a known rating (kW).
const JUMP_KW_WITHOUT_RATING: f64 = 400.0;
/// A session is analysed once it holds this many meter values (analysis.md
/// §2); before that it has no verdict, so nothing can be found in it.
const MIN_METER_VALUES: usize = 3;

/// The session's quantities in analysis units, restricted to the window.
#[derive(Debug, Default)]
struct Series {
    energy: Vec<(i64, f64)>,
    power: Vec<(i64, f64)>,
    soc: Vec<(i64, f64)>,
    times: Vec<i64>,
}

/// Every §3 category (but UNUSUAL_PATTERN) that `request` shows, with its
/// bucket range. `rated_power_kw` is the connector's rating, if known.
pub fn find_anomalies(request: &SessionRequest, rated_power_kw: Option<f64>) -> Vec<Label> {
    if request.meter_values.len() < MIN_METER_VALUES {
        return Vec::new();
    }
    let Some((series, window)) = parse(request) else {
        return Vec::new();
    };
    let jump_kw = rated_power_kw.map_or(JUMP_KW_WITHOUT_RATING, |r| 1.5 * r);
    let power = bucket_power(&series, &window, jump_kw);
    let plateau = plateau(&power);
    let mut found = Vec::new();
    register_steps(&series, &window, jump_kw, &mut found);
    zero_session(&series, &window, jump_kw, &mut found);
    if plateau > 0.0 {
        energy_pit(&power, plateau, &mut found);
        charging_expected(&series, &power, plateau, &mut found);
        power_spike(&series, &window, plateau, rated_power_kw, &mut found);
    }
    meter_stuck(&series, &window, &mut found);
    soc_decrease(&series, &window, &mut found);
    data_gap(&series, &window, &mut found);
    found
}

/// The connector rating the request itself carries (`metadata.rated_power_kw`):
/// all an analysis of the request alone knows.
pub fn carried_rating(request: &SessionRequest) -> Option<f64> {
    request
        .metadata
        .as_ref()?
        .get("rated_power_kw")?
        .as_f64()
        .filter(|kw| *kw > 0.0)
}

fn parse(request: &SessionRequest) -> Option<(Series, Window)> {
    let (mut energy, mut power, mut soc) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for mv in &request.meter_values {
        let ts = DateTime::parse_from_rfc3339(&mv.timestamp).ok()?.timestamp();
        let milli = matches!(mv.unit, None | Some(UnitOfMeasure::Wh | UnitOfMeasure::W));
        let value = if milli { mv.value / 1000.0 } else { mv.value };
        match mv.measurand.unwrap_or(Measurand::EnergyActiveImportRegister) {
            Measurand::EnergyActiveImportRegister => {
                energy.insert(ts, value);
            }
            // Per-phase power adds up to the session's power.
            Measurand::PowerActiveImport => *power.entry(ts).or_insert(0.0) += value,
            Measurand::SoC => {
                soc.insert(ts, mv.value);
            }
            _ => {}
        }
    }
    let mut times: Vec<i64> = request
        .meter_values
        .iter()
        .filter_map(|mv| {
            DateTime::parse_from_rfc3339(&mv.timestamp)
                .ok()
                .map(|t| t.timestamp())
        })
        .collect();
    times.sort_unstable();
    times.dedup();
    let window = Window::of(times.iter().copied())?;
    let inside = |m: BTreeMap<i64, f64>| m.into_iter().filter(|(t, _)| *t >= window.t0).collect();
    times.retain(|t| *t >= window.t0);
    let series = Series {
        energy: inside(energy),
        power: inside(power),
        soc: inside(soc),
        times,
    };
    Some((series, window))
}

/// Mean power per bucket: from Power.Active.Import where reported, else from
/// the register's increase (steps that are themselves faults excluded).
fn bucket_power(s: &Series, w: &Window, jump_kw: f64) -> Vec<Option<f64>> {
    let n = w.bucket(w.last) as usize + 1;
    let mut sum = vec![0.0; n];
    let mut weight = vec![0.0; n];
    if !s.power.is_empty() {
        for &(t, kw) in &s.power {
            sum[w.bucket(t) as usize] += kw;
            weight[w.bucket(t) as usize] += 1.0;
        }
    } else {
        for pair in s.energy.windows(2) {
            let ((ta, ea), (tb, eb)) = (pair[0], pair[1]);
            let hours = (tb - ta) as f64 / 3600.0;
            let inc = eb - ea;
            if inc >= 0.0 && inc / hours <= jump_kw {
                sum[w.bucket(tb) as usize] += inc;
                weight[w.bucket(tb) as usize] += hours;
            }
        }
    }
    sum.iter()
        .zip(&weight)
        .map(|(s, w)| (*w > 0.0).then(|| s / w))
        .collect()
}

/// About the 90th percentile of the power of buckets that deliver energy.
fn plateau(power: &[Option<f64>]) -> f64 {
    let mut delivering: Vec<f64> = power.iter().flatten().copied().filter(|p| *p > 0.05).collect();
    if delivering.is_empty() {
        return 0.0;
    }
    delivering.sort_by(f64::total_cmp);
    let rank = (0.9 * delivering.len() as f64).ceil() as usize;
    delivering[rank.clamp(1, delivering.len()) - 1]
}

fn label(category: Cat, start: u32, end: u32) -> Label {
    Label {
        category,
        start_unit: start,
        end_unit: end,
    }
}

/// KWH_DECREASE and ENERGY_JUMP: one register step at a time.
fn register_steps(s: &Series, w: &Window, jump_kw: f64, found: &mut Vec<Label>) {
    for pair in s.energy.windows(2) {
        let ((ta, ea), (tb, eb)) = (pair[0], pair[1]);
        let b = w.bucket(tb);
        if eb < ea - 0.001 {
            found.push(label(Cat::KwhDecrease, b, b));
        } else if (eb - ea) / ((tb - ta) as f64 / 3600.0) > jump_kw {
            found.push(label(Cat::EnergyJump, b, b));
        }
    }
}

fn zero_session(s: &Series, w: &Window, jump_kw: f64, found: &mut Vec<Label>) {
    let delivered: f64 = s
        .energy
        .windows(2)
        .map(|p| (p[1].1 - p[0].1, (p[1].0 - p[0].0) as f64 / 3600.0))
        .filter(|(inc, hours)| *inc > 0.0 && inc / hours <= jump_kw)
        .map(|(inc, _)| inc)
        .sum();
    if w.last - w.t0 >= 600 && delivered < 0.1 {
        found.push(label(Cat::ZeroSession, 0, w.bucket(w.last)));
    }
}

fn energy_pit(power: &[Option<f64>], plateau: f64, found: &mut Vec<Label>) {
    let high = |p: &Option<f64>| p.is_some_and(|p| p >= 0.5 * plateau);
    let mut run: Option<(u32, u32)> = None;
    for (b, p) in power.iter().enumerate() {
        let low = p.is_some_and(|p| p < 0.1 * plateau)
            && power[..b].iter().any(high)
            && power[b + 1..].iter().any(high);
        match (low, run) {
            (true, Some((start, _))) => run = Some((start, b as u32)),
            (true, None) => run = Some((b as u32, b as u32)),
            (false, Some((start, end))) if p.is_some() => {
                found.push(label(Cat::EnergyPit, start, end));
                run = None;
            }
            _ => {}
        }
    }
    if let Some((start, end)) = run {
        found.push(label(Cat::EnergyPit, start, end));
    }
}

fn charging_expected(s: &Series, power: &[Option<f64>], plateau: f64, found: &mut Vec<Label>) {
    let Some(&(_, last_soc)) = s.soc.last() else {
        return;
    };
    if last_soc >= 80.0 {
        return;
    }
    let known: Vec<(usize, f64)> = power
        .iter()
        .enumerate()
        .filter_map(|(b, p)| p.map(|p| (b, p)))
        .collect();
    let tail = known.iter().rev().take_while(|(_, p)| *p < 0.1 * plateau).count();
    let delivered_before = known[..known.len() - tail]
        .iter()
        .any(|(_, p)| *p >= 0.5 * plateau);
    if tail >= 2 && delivered_before {
        found.push(label(
            Cat::ChargingExpected,
            known[known.len() - tail].0 as u32,
            known[known.len() - 1].0 as u32,
        ));
    }
}

fn power_spike(s: &Series, w: &Window, plateau: f64, rated: Option<f64>, found: &mut Vec<Label>) {
    let above = |kw: f64| (kw > 2.0 * plateau && kw > plateau + 5.0) || rated.is_some_and(|r| kw > r);
    let mut i = 0;
    while i < s.power.len() {
        if !above(s.power[i].1) {
            i += 1;
            continue;
        }
        let j = i + s.power[i..].iter().take_while(|(_, kw)| above(*kw)).count() - 1;
        let (first, last) = (w.bucket(s.power[i].0), w.bucket(s.power[j].0));
        // Longer than a bucket is a level, not a spike.
        if first == last {
            found.push(label(Cat::PowerSpike, first, last));
        }
        i = j + 1;
    }
}

fn meter_stuck(s: &Series, w: &Window, found: &mut Vec<Label>) {
    let mut i = 0;
    while i < s.energy.len() {
        let (ti, ei) = s.energy[i];
        let j = i + s.energy[i..]
            .iter()
            .take_while(|(_, e)| (e - ei).abs() < 0.0005)
            .count()
            - 1;
        let tj = s.energy[j].0;
        if tj - ti >= 1800 {
            let mut kw: Vec<f64> = s
                .power
                .iter()
                .filter(|(t, _)| *t > ti && *t <= tj)
                .map(|p| p.1)
                .collect();
            kw.sort_by(f64::total_cmp);
            let flowing = kw.get(kw.len() / 2).is_some_and(|median| *median >= 1.0);
            let soc_at = |t: i64| s.soc.iter().find(|(ts, _)| *ts >= t).map(|p| p.1);
            let soc_rise = soc_at(tj)
                .zip(soc_at(ti))
                .is_some_and(|(end, start)| end - start >= 3.0);
            if flowing || soc_rise {
                found.push(label(Cat::MeterStuck, w.bucket(s.energy[i + 1].0), w.bucket(tj)));
            }
        }
        i = j + 1;
    }
}

fn soc_decrease(s: &Series, w: &Window, found: &mut Vec<Label>) {
    for pair in s.soc.windows(2) {
        if pair[1].1 <= pair[0].1 - 3.0 {
            let b = w.bucket(pair[1].0);
            found.push(label(Cat::SocDecrease, b, b));
        }
    }
}

fn data_gap(s: &Series, w: &Window, found: &mut Vec<Label>) {
    let mut intervals: Vec<i64> = s.times.windows(2).map(|p| p[1] - p[0]).collect();
    if intervals.is_empty() {
        return;
    }
    intervals.sort_unstable();
    let median = intervals[intervals.len() / 2];
    for pair in s.times.windows(2) {
        let gap = pair[1] - pair[0];
        if gap >= 1800 && gap >= 3 * median {
            found.push(label(Cat::DataGap, w.bucket(pair[0]), w.bucket(pair[1])));
        }
    }
}
