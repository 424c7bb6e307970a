//! One simulated session: station, vehicle, plan, physics, sampling, fault,
//! request. A draft is kept only if the reference rules find exactly what
//! it is labelled with; otherwise the session is drawn again.

use evni_domain::AnomalyCategory as Cat;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::config::{SessionKind, SimConfig};
use crate::faults::{self, DeliveryPlan, MeterContext};
use crate::novel;
use crate::output::{self, Label, Reporting, SessionRequest, SimulatedSession};
use crate::profile::{ChargePlan, Span, Vehicle};
use crate::rules;
use crate::sampling;
use crate::station::{self, CurrentType, StationSpec};
use crate::window::Window;

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const MIN_DURATION_S: i64 = 20 * MINUTE;
const MAX_DURATION_S: i64 = 12 * HOUR;
/// Idle tails stay short enough that the 6 h window always holds charging.
const MAX_TAIL_S: i64 = 4 * HOUR;
const MAX_ATTEMPTS: usize = 60;

/// An independent random stream per (seed, stream): session `i` uses stream
/// `i`, so it does not depend on how many sessions are generated.
pub(crate) fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

pub(crate) fn generate(config: &SimConfig, stations: &[StationSpec], index: usize) -> SimulatedSession {
    let mut rng = rng_for(config.seed, index as u64);
    let kind = config.pick_kind(&mut rng);
    let mut fallback = None;
    for _ in 0..MAX_ATTEMPTS {
        let Some((session, rated_kw)) = draft(&mut rng, config, stations, index, kind) else {
            continue;
        };
        // The labels must hold whether the analysis knows the station's
        // rating or only what the request carries.
        let carried = rules::carried_rating(&session.request);
        let mut found = vec![rules::find_anomalies(&session.request, Some(rated_kw))];
        if carried != Some(rated_kw) {
            found.push(rules::find_anomalies(&session.request, carried));
        }
        let ok = found.iter().all(|found| match kind {
            // No rule may name a novel fault: only a model can find it.
            SessionKind::Novel(_) => found.is_empty(),
            _ => accepted(&session.labels, found),
        });
        if ok {
            return session;
        }
        fallback.get_or_insert(session);
    }
    // Unreachable in practice (the tests check every session is accepted);
    // a clean draft always exists.
    fallback.unwrap_or_else(|| loop {
        if let Some((session, _)) = draft(&mut rng, config, stations, index, SessionKind::Clean) {
            break session;
        }
    })
}

/// The rules find the labelled categories and nothing else, and each label
/// overlaps a finding of its category.
pub(crate) fn accepted(labels: &[Label], found: &[Label]) -> bool {
    let overlaps = |a: &Label, b: &Label| a.start_unit <= b.end_unit && b.start_unit <= a.end_unit;
    found
        .iter()
        .all(|f| labels.iter().any(|l| l.category == f.category))
        && labels
            .iter()
            .all(|l| found.iter().any(|f| f.category == l.category && overlaps(l, f)))
}

/// What a fault needs from the session's telemetry.
fn needs_power(kind: SessionKind) -> bool {
    matches!(kind, SessionKind::Fault(Cat::PowerSpike | Cat::MeterStuck))
}

fn needs_soc(kind: SessionKind) -> bool {
    matches!(kind, SessionKind::Fault(Cat::SocDecrease | Cat::ChargingExpected))
}

fn draft(
    rng: &mut ChaCha8Rng,
    config: &SimConfig,
    stations: &[StationSpec],
    index: usize,
    kind: SessionKind,
) -> Option<(SimulatedSession, f64)> {
    let station = (0..20)
        .map(|_| station::draw(rng, stations))
        .find(|s| !needs_power(kind) || s.reports_power())
        .unwrap_or_else(|| station::draw(rng, stations));
    let dc = station.current_type == CurrentType::DC;
    let connector = rng.random_range(1..=station.connectors);
    let reporting = Reporting {
        power: station.reports_power() || needs_power(kind),
        soc: needs_soc(kind) || rng.random_bool(if dc { 0.85 } else { 0.15 }),
        soc_decimals: if rng.random_bool(0.7) { 0 } else { 1 },
    };

    let mut plan = base_plan(rng, station);
    let base = plan.simulate(rng, MAX_DURATION_S + HOUR);
    let delivery = match kind {
        SessionKind::Fault(c @ (Cat::EnergyPit | Cat::ChargingExpected | Cat::ZeroSession)) => {
            Some(faults::plan_delivery_fault(rng, c, &mut plan, &base)?)
        }
        _ => None,
    };
    let novel = match kind {
        SessionKind::Novel(fault) => Some(novel::plan_novel_fault(
            rng,
            fault,
            &mut plan,
            &base,
            station,
            reporting.power,
        )?),
        _ => None,
    };
    let trace = if delivery.is_some() || novel.is_some() {
        plan.simulate(rng, MAX_DURATION_S + 4 * HOUR)
    } else {
        base
    };
    let duration_s = match delivery {
        Some(DeliveryPlan {
            duration_s: Some(d), ..
        }) => d,
        _ => {
            let earliest_s = delivery
                .map(|d| d.earliest_unplug_s)
                .or(novel.map(|n| n.earliest_unplug_s))
                .unwrap_or(0);
            unplug_time(rng, &plan, dc, trace.complete_s, reporting.soc, earliest_s)?
        }
    };
    if !(MIN_DURATION_S..=MAX_DURATION_S).contains(&duration_s) {
        return None;
    }

    let day = rng.random_range(0..config.span_days.max(1)) as i64;
    let start = config.start.timestamp() + day * 24 * HOUR + start_time_of_day(rng, dc);
    let register_kwh = station.register_base_kwh[connector as usize - 1]
        + station.register_kwh_per_day * (day as f64 + rng.random_range(0.0..1.0));
    let timestamps = sampling::timestamps(rng, start, duration_s, station.meter.interval_s);
    let mut rows = sampling::read(
        rng,
        &trace,
        start,
        register_kwh,
        &timestamps,
        0.99 * station.rated_power_kw,
    );
    let window = Window::of(rows.iter().map(|r| r.ts))?;

    let labels = match (kind, delivery) {
        (SessionKind::Clean, _) => Vec::new(),
        (SessionKind::Novel(_), _) => {
            let novel = novel.as_ref()?;
            vec![novel::apply_and_label(novel, &mut rows, &trace, start, window)?]
        }
        (_, Some(d)) => vec![faults::label_delivery_fault(d.fault, &rows, window, start)?],
        (SessionKind::Fault(category), None) => {
            let mut ctx = MeterContext {
                rows: &mut rows,
                window,
                rated_kw: station.rated_power_kw,
                soc_reported: reporting.soc,
            };
            vec![faults::inject_meter_fault(rng, category, &mut ctx)?]
        }
    };

    let mut request = SessionRequest {
        session_id: format!("{}-{index:06}", config.id_prefix),
        charging_station_id: station.id.clone(),
        connector_id: Some(connector.to_string()),
        evse_id: station.evse_prefix.as_ref().map(|p| format!("{p}*{connector}")),
        meter_values: output::meter_values(rng, station, reporting, &rows),
        metadata: rng.random_bool(0.6).then(|| {
            json!({
                "operator": station.operator,
                "current_type": station.current_type,
                "rated_power_kw": station.rated_power_kw,
            })
        }),
    };
    if let Some(novel) = &novel {
        novel::rewrite_meter_values(novel, &mut request.meter_values, start);
    }
    Some((
        SimulatedSession {
            request,
            labels,
            kind,
        },
        station.rated_power_kw,
    ))
}

/// A normal charge at `station`: vehicle, SoC range, delayed start and load
/// management.
fn base_plan(rng: &mut ChaCha8Rng, station: &StationSpec) -> ChargePlan {
    let dc = station.current_type == CurrentType::DC;
    let vehicle = Vehicle::draw(rng, station);
    let soc_start = if dc {
        rng.random_range(5.0..50.0)
    } else {
        rng.random_range(8.0..75.0)
    };
    let soc_target = match (dc, rng.random_range(0..10)) {
        (true, 0..5) => 80.0,
        (true, _) => rng.random_range(85.0..100.0),
        (false, 0) => 80.0,
        (false, 1..3) => 90.0,
        (false, _) => 100.0,
    };
    let delay_s = match (dc, rng.random_bool(0.12)) {
        (false, true) => rng.random_range(5..=90) * MINUTE,
        (true, true) => rng.random_range(1..=6) * MINUTE,
        _ => 0,
    };
    let limits = if station.meter.load_management {
        (0..rng.random_range(1..=3))
            .map(|_| {
                let start_s = rng.random_range(0..8 * HOUR);
                let span = Span {
                    start_s,
                    end_s: start_s + rng.random_range(15..=90) * MINUTE,
                };
                (span, rng.random_range(0.25..0.7))
            })
            .collect()
    } else {
        Vec::new()
    };
    ChargePlan {
        vehicle,
        charger_kw: station.rated_power_kw * rng.random_range(0.93..0.98),
        soc_start,
        soc_target,
        delay_s,
        limits,
        pause: None,
        stop_s: None,
        no_delivery: false,
        shape: None,
        noise: if dc { 0.01 } else { 0.004 },
    }
}

/// When the driver unplugs: before the battery is full, shortly after, or
/// after an idle tail. A tail at zero power needs a full battery (SoC >= 90 %)
/// or no SoC reported, else it would read as CHARGING_EXPECTED.
fn unplug_time(
    rng: &mut ChaCha8Rng,
    plan: &ChargePlan,
    dc: bool,
    complete_s: Option<i64>,
    soc_reported: bool,
    earliest_s: i64,
) -> Option<i64> {
    let earliest_s = earliest_s.max(plan.delay_s + 30 * MINUTE).max(MIN_DURATION_S);
    if earliest_s > MAX_DURATION_S {
        return None;
    }
    let Some(complete_s) = complete_s else {
        // Still charging after 12 h: the driver leaves first.
        return Some(rng.random_range(earliest_s.max(6 * HOUR)..=MAX_DURATION_S));
    };
    if complete_s > earliest_s && rng.random_bool(if dc { 0.3 } else { 0.25 }) {
        return Some(rng.random_range(earliest_s..complete_s));
    }
    let tail_ok = !soc_reported || plan.soc_target >= 90.0;
    let tail_s = if tail_ok && rng.random_bool(if dc { 0.2 } else { 0.6 }) {
        let longest = if dc { HOUR } else { MAX_TAIL_S };
        rng.random_range(10 * MINUTE..=longest)
    } else {
        rng.random_range(MINUTE..=8 * MINUTE)
    };
    Some((complete_s + tail_s).clamp(earliest_s, MAX_DURATION_S))
}

/// Seconds after midnight UTC: AC around commutes and evenings, DC in the day.
fn start_time_of_day(rng: &mut ChaCha8Rng, dc: bool) -> i64 {
    let hour = if dc {
        rng.random_range(6..22)
    } else {
        *station::pick(rng, &[6, 7, 8, 9, 12, 16, 17, 18, 19, 20, 21])
    };
    hour * HOUR + rng.random_range(0..HOUR)
}
