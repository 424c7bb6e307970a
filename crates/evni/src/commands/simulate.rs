//! `evni simulate`: labelled sessions in the dev-set JSON-lines format.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use evni_sim::SimConfig;

pub fn run(sessions: usize, seed: u64, novel_share: f64, out: Option<&Path>) -> anyhow::Result<()> {
    let config = SimConfig {
        novel_share,
        ..SimConfig::new(sessions, seed)
    };
    let written = match out {
        Some(path) => {
            let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut writer = BufWriter::new(file);
            let n = evni_sim::write_jsonl(&config, &mut writer)?;
            writer.flush()?;
            n
        }
        None => {
            let stdout = std::io::stdout();
            let mut writer = BufWriter::new(stdout.lock());
            let n = evni_sim::write_jsonl(&config, &mut writer)?;
            writer.flush()?;
            n
        }
    };
    eprintln!("simulated {written} sessions (seed {seed})");
    Ok(())
}
