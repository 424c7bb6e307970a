//! Why fine-tuning matters, in figures: a fleet whose chargers step down
//! every hour for load balancing (normal, and the rules agree) against the
//! base CSAR-2 and against CSAR-2 fine-tuned on the fleet's sessions.
//!
//! `cargo run --release -p evni-models --example fine_tune_fleet -- [SESSIONS] [EPOCHS]`

use std::time::Instant;

use evni_analysis::features::SessionFeatures;
use evni_analysis::Outcome;
use evni_models::data::{self, Sample};
use evni_models::fine_tune::{fine_tune_csar2, load_balanced, FineTuneConfig, FineTuneData, LoadBalancing};
use evni_models::{Model, Models};
use evni_sim::{SessionKind, SimConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sessions: usize = args.first().map_or(Ok(2000), |a| a.parse())?;
    let epochs: usize = args.get(1).map_or(Ok(20), |a| a.parse())?;
    let base = Models::base()?;
    let lb = LoadBalancing::default();
    let fleet = |config: SimConfig| -> Result<Vec<Sample>, Box<dyn std::error::Error>> {
        Ok(evni_sim::simulate(config)
            .map(|s| data::prepare(&load_balanced(&s, lb)))
            .collect::<Result<Vec<_>, _>>()?)
    };
    let clean = fleet(SimConfig {
        sessions,
        seed: 77,
        kinds: Some(vec![SessionKind::Clean]),
        id_prefix: "FLEET".into(),
        ..SimConfig::default()
    })?;
    let faults = fleet(SimConfig {
        sessions: sessions / 4,
        seed: 78,
        fault_share: 0.0,
        novel_share: 1.0,
        id_prefix: "FAULT".into(),
        ..SimConfig::default()
    })?;
    let rule_alarms = clean.iter().filter(|s| rule_flagged(s)).count();
    println!(
        "fleet: {} clean load-balanced sessions ({} min at {:.0} % every hour); rules flag {} of them",
        clean.len(),
        lb.minutes,
        lb.factor * 100.0,
        rule_alarms
    );
    let normal: Vec<SessionFeatures> = clean
        .iter()
        .filter(|s| !rule_flagged(s))
        .filter_map(Sample::features)
        .collect();
    let (train, rest) = normal.split_at(normal.len() * 6 / 10);
    let (calibration, evaluation) = rest.split_at(rest.len() / 2);
    // Replay: as many simulated ordinary sessions, so nothing is forgotten.
    let replay: Vec<SessionFeatures> = data::simulate(
        &SimConfig {
            sessions: train.len(),
            seed: 79,
            kinds: Some(vec![SessionKind::Clean]),
            id_prefix: "REPLAY".into(),
            ..SimConfig::default()
        },
        data::default_threads(),
    )?
    .iter()
    .filter_map(Sample::features)
    .collect();
    let data = FineTuneData {
        train: train.iter().cloned().chain(replay).collect(),
        calibration: calibration.to_vec(),
        evaluation: evaluation.to_vec(),
        faults: faults
            .iter()
            .filter_map(|s| Some((s.features()?, s.labels.clone())))
            .collect(),
    };
    let config = FineTuneConfig {
        epochs,
        learning_rate: 1e-3,
        batch_size: 64,
        seed: 1,
        target_false_alarm_rate: 0.005,
        version: "1.0.0-ft".into(),
    };
    let started = Instant::now();
    let (tuned, _, before, after) = fine_tune_csar2(&base.csar2, &data, &config, &mut |e, n, loss| {
        eprintln!("epoch {e}/{n}: loss {loss:.5}");
    })?;
    println!(
        "fine-tuned in {:.1} s on {} sessions ({} of the fleet, the rest replayed ordinary ones)",
        started.elapsed().as_secs_f64(),
        data.train.len(),
        train.len()
    );
    println!("CSAR-2 alone           false alarms on held-out fleet sessions   recall on novel faults in the fleet");
    for (name, f) in [("base", before), ("fine-tuned", after)] {
        println!(
            "  {name:<20} {:>4} / {:<4} ({:>5.1} %)                     {:>4} / {:<4} ({:>5.1} %)",
            f.false_alarms,
            f.normal_sessions,
            100.0 * f.false_alarm_rate(),
            f.faults_found,
            f.fault_sessions,
            100.0 * f.recall()
        );
    }
    // The whole analysis (rules + both models), as a tenant sees it.
    let tuned_models = Models {
        csar2: tuned,
        csarc2: base.csarc2.clone(),
    };
    let held_out: Vec<&Sample> = clean
        .iter()
        .filter(|s| !rule_flagged(s))
        .skip(train.len() + calibration.len())
        .collect();
    println!("whole analysis         sessions flagged among held-out fleet     novel faults flagged");
    for (name, models) in [("base", &base), ("fine-tuned", &tuned_models)] {
        let alarms = held_out.iter().filter(|s| flagged(models, s)).count();
        let caught = faults.iter().filter(|s| flagged(models, s)).count();
        println!(
            "  {name:<20} {alarms:>4} / {:<4} ({:>5.1} %)                     {caught:>4} / {:<4} ({:>5.1} %)",
            held_out.len(),
            100.0 * alarms as f64 / held_out.len().max(1) as f64,
            faults.len(),
            100.0 * caught as f64 / faults.len().max(1) as f64
        );
    }
    println!("model: {}", tuned_models.csar2.id());
    Ok(())
}

fn rule_flagged(s: &Sample) -> bool {
    matches!(evni_analysis::analyze(&s.readings, &s.context), Outcome::Analyzed(a) if !a.anomalies.is_empty())
}

fn flagged(models: &Models, s: &Sample) -> bool {
    matches!(models.analyze(&s.readings, &s.context), Outcome::Analyzed(a) if !a.anomalies.is_empty())
}
