//! Trains a model without the full CLI (`evni train` does the same):
//! `cargo run --release -p evni-models --example train -- csar_2 1 models/csar_2 [--tiny]`

use std::path::PathBuf;
use std::time::Instant;

use evni_models::train::{train_csar2, train_csarc2, TrainConfig};
use evni_models::{write_artifact, Model};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, seed, out, rest @ ..] = args.as_slice() else {
        return Err("usage: train csar_2|csar_c_2 SEED OUT_DIR [--tiny]".into());
    };
    let seed: u64 = seed.parse()?;
    let tiny = rest.iter().any(|a| a == "--tiny");
    let started = Instant::now();
    let (card, weights) = match model.as_str() {
        "csar_2" => {
            let mut c = TrainConfig::csar2(seed);
            if let Ok(h) = std::env::var("HIDDEN") {
                c.hidden = h.split(',').map(|x| x.parse().unwrap()).collect();
            }
            if let Ok(r) = std::env::var("MIN_RUN") {
                c.min_run_buckets = r.parse()?;
            }
            if let Ok(t) = std::env::var("TARGET_FALSE_ALARMS") {
                c.target_false_alarm_rate = t.parse()?;
            }
            if let Ok(s) = std::env::var("DELAYED") {
                c.delayed_start_share = s.parse()?;
            }
            if let Ok(s) = std::env::var("MAX_SCALE") {
                c.max_scale = s.parse()?;
            }
            if let Ok(s) = std::env::var("RUN_WINDOW") {
                c.run_window_buckets = s.parse()?;
            }
            if let Ok(s) = std::env::var("STATIONS") {
                c.stations = s.parse()?;
            }
            if let Ok(s) = std::env::var("TRAIN_SESSIONS") {
                c.train_sessions = s.parse()?;
            }
            if let Ok(s) = std::env::var("CAL_SESSIONS") {
                c.calibration_sessions = s.parse()?;
            }
            if let Ok(e) = std::env::var("EPOCHS") {
                c.epochs = e.parse()?;
            }
            let (m, w) = train_csar2(&if tiny { c.tiny() } else { c })?;
            (m.card().clone(), w)
        }
        "csar_c_2" => {
            let c = TrainConfig::csarc2(seed);
            let (m, w) = train_csarc2(&if tiny { c.tiny() } else { c })?;
            (m.card().clone(), w)
        }
        other => return Err(format!("unknown model {other}").into()),
    };
    write_artifact(&PathBuf::from(out), &weights, &card)?;
    eprintln!("{} in {:.0} s", card.name, started.elapsed().as_secs_f64());
    eprintln!("{}", serde_json::to_string_pretty(&card.metrics)?);
    eprintln!("thresholds {:?} sha256 {}", card.thresholds, card.weights_sha256);
    Ok(())
}
