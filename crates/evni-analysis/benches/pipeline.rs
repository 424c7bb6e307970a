//! The hot path: `analyze` on a 6 h session at 1-minute sampling with
//! energy, power and SoC (1,080 readings), as on every PATCH of a live
//! session. Target: >= 20,000 sessions/s on one core (<= 50 µs each).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use evni_analysis::{analyze, SessionContext};
use evni_domain::{Location, Measurand, Reading, UnitOfMeasure, MICROS_PER_MINUTE};

/// A DC-like charge: plateau, taper as SoC rises, small deterministic noise.
fn session() -> Vec<Reading> {
    let t0 = 1_780_826_400_000_000;
    let mut register_wh = 48_213_700.0;
    let mut soc = 20.0;
    let mut readings = Vec::with_capacity(1080);
    for minute in 0..360 {
        let ts = t0 + minute * MICROS_PER_MINUTE;
        let noise = ((minute * 7919) % 13) as f64 / 13.0 - 0.5;
        let kw = if soc < 60.0 {
            50.0
        } else {
            50.0 * (100.0 - soc) / 40.0
        } + noise;
        let reading = |measurand, unit, value| Reading {
            ts,
            measurand,
            phase: None,
            location: Location::Outlet,
            unit: Some(unit),
            value,
            context: None,
        };
        readings.push(reading(
            Measurand::EnergyActiveImportRegister,
            UnitOfMeasure::Wh,
            register_wh,
        ));
        readings.push(reading(
            Measurand::PowerActiveImport,
            UnitOfMeasure::W,
            kw * 1000.0,
        ));
        readings.push(reading(Measurand::SoC, UnitOfMeasure::Percent, soc));
        register_wh += kw * 1000.0 / 60.0;
        soc = (soc + kw / 60.0 / 0.8).min(100.0);
    }
    readings
}

fn pipeline(c: &mut Criterion) {
    let readings = session();
    let context = SessionContext {
        rated_power_kw: Some(150.0),
    };
    let mut group = c.benchmark_group("analyze");
    group.throughput(Throughput::Elements(1));
    group.bench_function("6h_1min_energy_power_soc", |b| {
        b.iter(|| analyze(std::hint::black_box(&readings), &context))
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
