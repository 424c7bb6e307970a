//! `evni train`: trains a base model from simulated sessions and writes its
//! artifact (safetensors + JSON sidecar). The shipped models under
//! `models/` are reproduced by `evni train --model csar_2 --seed 1 --out models/csar_2`
//! (and the same for `csar_c_2`).

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};
use evni_models::train::{train_csar2, train_csarc2, TrainConfig};
use evni_models::{write_artifact, Model};

pub fn run(model: &str, seed: u64, out: &Path, tiny: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let (card, weights) = match model {
        "csar_2" => {
            let mut config = TrainConfig::csar2(seed);
            if tiny {
                config = config.tiny();
            }
            let (m, w) = train_csar2(&config).context("training csar_2")?;
            (m.card().clone(), w)
        }
        "csar_c_2" => {
            let mut config = TrainConfig::csarc2(seed);
            if tiny {
                config = config.tiny();
            }
            let (m, w) = train_csarc2(&config).context("training csar_c_2")?;
            (m.card().clone(), w)
        }
        other => bail!("unknown model '{other}': csar_2 or csar_c_2"),
    };
    write_artifact(out, &weights, &card).with_context(|| format!("writing {}", out.display()))?;
    let m = &card.metrics;
    eprintln!(
        "trained {} {} (seed {seed}) in {:.0} s: precision {:.3} recall {:.3} f1 {:.3} false alarms {:.2} %",
        card.name,
        card.version,
        started.elapsed().as_secs_f64(),
        m.precision,
        m.recall,
        m.f1,
        100.0 * m.false_alarm_rate
    );
    for (k, v) in &m.details {
        eprintln!("  {k}: {v:.4}");
    }
    eprintln!("thresholds: {:?}", card.thresholds);
    eprintln!("weights sha256 {} -> {}", card.weights_sha256, out.display());
    Ok(())
}
