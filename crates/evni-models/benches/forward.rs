//! CSAR-2's forward pass in batches of 256 (target: >= 50,000 sessions/s on
//! one core), CSAR-C-2's, and one session through rules plus both models.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use evni_analysis::features::SessionFeatures;
use evni_models::{data, Models};
use evni_sim::SimConfig;

fn forward(c: &mut Criterion) {
    let models = Models::base().expect("base models");
    let samples = data::simulate(&SimConfig::new(256, 5), 1).expect("simulated");
    let features: Vec<SessionFeatures> = samples.iter().filter_map(|s| s.features()).collect();
    let batch: Vec<&SessionFeatures> = features.iter().collect();

    let mut group = c.benchmark_group("forward");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("csar_2 batch of 256", |b| {
        b.iter(|| models.csar2.score_batch(&batch))
    });
    group.bench_function("csar_c_2 batch of 256", |b| {
        b.iter(|| models.csarc2.score_batch(&batch))
    });
    group.finish();

    let mut group = c.benchmark_group("session");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("rules + csar_2 + csar_c_2", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % samples.len();
                &samples[i]
            },
            |s| models.analyze(&s.readings, &s.context),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, forward);
criterion_main!(benches);
