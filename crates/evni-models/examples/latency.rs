//! Single-session latency of rules plus both models, in process, one
//! session at a time: p50, p99 and max over simulated sessions.
//! `cargo run --release -p evni-models --example latency [SESSIONS]`

use std::time::Instant;

use evni_models::{data, Models};
use evni_sim::SimConfig;

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3000);
    let models = Models::base().expect("base models");
    let samples = data::simulate(&SimConfig::new(n, 9), 2).expect("simulated");
    // Warm up caches and the allocator.
    for s in samples.iter().take(200) {
        std::hint::black_box(models.analyze(&s.readings, &s.context));
    }
    let mut micros: Vec<f64> = samples
        .iter()
        .map(|s| {
            let t = Instant::now();
            std::hint::black_box(models.analyze(&s.readings, &s.context));
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q).round() as usize];
    let readings: Vec<usize> = samples.iter().map(|s| s.readings.len()).collect();
    println!(
        "{} sessions ({}..{} readings): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        micros.len(),
        readings.iter().min().unwrap_or(&0),
        readings.iter().max().unwrap_or(&0),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
