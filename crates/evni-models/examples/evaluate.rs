//! CSAR-2 on fresh simulated station pools: false alarms of the whole
//! analysis (rules + both models) on clean sessions, and recall of the
//! novel fault families, per seed; plus where CSAR-2's session ratio sits
//! on clean sessions (its tail decides the false-alarm rate).
//!
//! `cargo run --release -p evni-models --example evaluate -- [--models DIR]
//! [--seeds 20261126,99] [--clean N] [--novel N]`
//!
//! `DIR` holds `csar_2/` and `csar_c_2/` (default: the base models of this build).

use std::collections::BTreeMap;
use std::path::PathBuf;

use evni_analysis::Outcome;
use evni_domain::{AnomalyCategory, Detector};
use evni_models::{data, Models};
use evni_sim::{SessionKind, SimConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let models = match arg("--models").map(PathBuf::from) {
        Some(dir) => Models::load_dir(&dir)?,
        None => Models::base()?,
    };
    let seeds: Vec<u64> = arg("--seeds")
        .unwrap_or_else(|| "20261126,99".into())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let clean_n: usize = arg("--clean").map_or(Ok(10_000), |a| a.parse())?;
    let novel_n: usize = arg("--novel").map_or(Ok(1_500), |a| a.parse())?;
    let threads = data::default_threads();
    println!("models: {}", models.id());
    let (mut all_alarms, mut all_clean, mut all_found, mut all_novel) = (0, 0, 0, 0);
    for seed in seeds {
        let sim = |sessions, kinds: Vec<SessionKind>| SimConfig {
            sessions,
            seed,
            kinds: Some(kinds),
            novel_share: 1.0,
            ..SimConfig::default()
        };
        let clean = data::simulate(&sim(clean_n, vec![SessionKind::Clean]), threads)?;
        let novel = data::simulate(&sim(novel_n, SessionKind::novel()), threads)?;
        let mut by_detector: BTreeMap<String, usize> = BTreeMap::new();
        let mut ratios = Vec::new();
        let mut alarms = 0;
        for s in &clean {
            if let Some(scores) = models.score(&s.readings, &s.context) {
                ratios.push(scores.csar2.ratio());
            }
            let Outcome::Analyzed(a) = models.analyze(&s.readings, &s.context) else {
                continue;
            };
            if a.anomaly_score >= 0.5 {
                alarms += 1;
                for x in &a.anomalies {
                    *by_detector
                        .entry(format!("{:?}/{}", x.detector, x.category.as_str()))
                        .or_default() += 1;
                }
            }
        }
        ratios.sort_by(f64::total_cmp);
        let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p).round() as usize];
        let mut families: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        // A novel fault that could not be placed falls back to a clean session.
        for s in novel.iter().filter(|s| !s.labels.is_empty()) {
            let found = match models.analyze(&s.readings, &s.context) {
                Outcome::Analyzed(a) => {
                    a.anomaly_score >= 0.5
                        && s.labels.iter().all(|l| {
                            a.anomalies.iter().any(|x| {
                                l.matches(x)
                                    && x.category == AnomalyCategory::UnusualPattern
                                    && x.detector == Detector::Csar2
                            })
                        })
                }
                _ => false,
            };
            let e = families.entry(s.kind.as_str()).or_default();
            e.0 += 1;
            e.1 += usize::from(found);
        }
        let (n, found) = families.values().fold((0, 0), |(a, b), (n, f)| (a + n, b + f));
        println!(
            "seed {seed}: false alarms {alarms} of {} ({:.2} %) {by_detector:?}",
            clean.len(),
            100.0 * alarms as f64 / clean.len() as f64
        );
        println!(
            "  clean CSAR-2 ratio quantiles: 0.99 {:.3}  0.995 {:.3}  0.998 {:.3}  0.999 {:.3}  max {:.3}",
            q(0.99),
            q(0.995),
            q(0.998),
            q(0.999),
            q(1.0)
        );
        print!("  novel recall {:.3} ({found} of {n}):", found as f64 / n as f64);
        for (k, (n, f)) in &families {
            print!("  {k} {:.3}", *f as f64 / *n as f64);
        }
        println!();
        all_alarms += alarms;
        all_clean += clean.len();
        all_found += found;
        all_novel += n;
    }
    println!(
        "overall: false alarms {:.2} %, novel recall {:.3}",
        100.0 * all_alarms as f64 / all_clean.max(1) as f64,
        all_found as f64 / all_novel.max(1) as f64
    );
    Ok(())
}
