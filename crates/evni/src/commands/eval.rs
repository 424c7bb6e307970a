//! `evni eval`: runs labelled sessions through the analysis, in process or
//! through a running server's API, and reports precision, recall, F1, the
//! false-alarm rate and throughput.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use evni_analysis::eval::{Evaluation, Label};
use evni_analysis::{analyze, Analysis, Outcome, SessionContext};
use evni_domain::{Anomaly, AnomalyCategory, MeterValueIn, Reading};
use serde::Deserialize;

#[derive(Deserialize)]
struct Line {
    request: serde_json::Value,
    #[serde(default)]
    labels: Vec<LabelIn>,
    /// The simulator's session kind; novel kinds get their recall reported.
    #[serde(default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct LabelIn {
    category: String,
    start_unit: u32,
    end_unit: u32,
}

/// Where sessions are analysed.
pub enum Target {
    InProcess,
    Http { url: String, token: String },
}

/// Which models analyse in process.
pub enum ModelChoice {
    /// The rules alone.
    None,
    /// The base models shipped with this build.
    Base,
    /// Artifacts written by `evni train` under one directory.
    Dir(PathBuf),
}

pub async fn run(path: &Path, target: Target, models: ModelChoice) -> anyhow::Result<()> {
    let models = match (&target, models) {
        (Target::InProcess, ModelChoice::Base) => {
            Some(evni_models::Models::base().context("loading the base models")?)
        }
        (Target::InProcess, ModelChoice::Dir(dir)) => Some(
            evni_models::Models::load_dir(&dir)
                .with_context(|| format!("loading models from {}", dir.display()))?,
        ),
        _ => None,
    };
    let mut evaluation = Evaluation::default();
    // In process with models: what the rules and the models find alone.
    let mut rules_alone = Evaluation::default();
    let mut models_alone = Evaluation::default();
    let mut novel = NovelRecall::default();
    let mut analysing = Duration::ZERO;
    let started = Instant::now();
    let client = reqwest::Client::new();
    for (number, line) in open(path)?.lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", number + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line).with_context(|| format!("line {}", number + 1))?;
        let (labels, unnamed) = labels(&parsed.labels);
        let outcome = match &target {
            Target::InProcess => {
                let (readings, context) =
                    prepare(&parsed.request).with_context(|| format!("line {}", number + 1))?;
                let clock = Instant::now();
                let rules = analyze(&readings, &context);
                let scores = models.as_ref().and_then(|m| m.score(&readings, &context));
                let window = evni_analysis::window::window(&readings);
                let outcome = match &scores {
                    Some(s) => evni_models::combine(rules.clone(), s.findings(), window),
                    None => rules.clone(),
                };
                analysing += clock.elapsed();
                if let Some(s) = &scores {
                    models_alone.add_with_unnamed(
                        &labels,
                        &unnamed,
                        &evni_models::combine(without_findings(&rules), s.findings(), window),
                    );
                }
                rules_alone.add_with_unnamed(&labels, &unnamed, &rules);
                outcome
            }
            Target::Http { url, token } => {
                let clock = Instant::now();
                let outcome = post(&client, url, token, &parsed.request).await?;
                analysing += clock.elapsed();
                outcome
            }
        };
        novel.add(parsed.kind.as_deref(), &labels, &outcome);
        evaluation.add_with_unnamed(&labels, &unnamed, &outcome);
    }
    let sessions = evaluation.sessions();
    match &models {
        Some(m) => println!("analysis: {}", m.id()),
        None => println!("analysis: rules only"),
    }
    println!("{evaluation}");
    if models.is_some() {
        for (name, e) in [("rules alone", &rules_alone), ("models alone", &models_alone)] {
            let s = e.session();
            println!(
                "{name:<13} session precision {}  recall {}  f1 {}  false alarms {}",
                fmt(s.precision),
                fmt(s.recall),
                fmt(s.f1),
                e.false_alarm_rate()
                    .map_or("-".into(), |r| format!("{:.2} %", 100.0 * r))
            );
        }
    }
    novel.print();
    let per_second = |d: Duration| sessions as f64 / d.as_secs_f64().max(1e-9);
    match target {
        Target::InProcess => println!(
            "throughput: {:.0} sessions/s analysing ({:.1} µs each), {:.0} sessions/s including parsing",
            per_second(analysing),
            analysing.as_secs_f64() * 1e6 / sessions.max(1) as f64,
            per_second(started.elapsed())
        ),
        Target::Http { .. } => {
            println!(
                "throughput: {:.0} sessions/s through the API (one at a time)",
                per_second(analysing)
            )
        }
    }
    Ok(())
}

fn fmt(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

/// The rules' outcome with the findings removed: what the models add alone.
fn without_findings(outcome: &Outcome) -> Outcome {
    match outcome {
        Outcome::Analyzed(a) => Outcome::Analyzed(Analysis {
            anomalies: Vec::new(),
            anomaly_score: 0.0,
            ..a.clone()
        }),
        other => other.clone(),
    }
}

/// Recall of UNUSUAL_PATTERN per novel fault kind (`novel_*` in the file):
/// faults no rule names, which only CSAR-2 can find.
#[derive(Default)]
struct NovelRecall {
    kinds: std::collections::BTreeMap<String, (usize, usize)>,
}

impl NovelRecall {
    fn add(&mut self, kind: Option<&str>, labels: &[Label], outcome: &Outcome) {
        let Some(kind) = kind.filter(|k| k.starts_with("novel_")) else {
            return;
        };
        let found = match outcome {
            Outcome::Analyzed(a) => labels.iter().all(|l| a.anomalies.iter().any(|x| l.matches(x))),
            _ => false,
        };
        let entry = self.kinds.entry(kind.to_string()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(found);
    }

    fn print(&self) {
        if self.kinds.is_empty() {
            return;
        }
        let (n, found) = self.kinds.values().fold((0, 0), |(a, b), (n, f)| (a + n, b + f));
        println!(
            "novel faults (UNUSUAL_PATTERN): recall {:.3} ({found} of {n})",
            found as f64 / n as f64
        );
        for (kind, (n, f)) in &self.kinds {
            println!("  {kind:<26} recall {:.3} ({f} of {n})", *f as f64 / *n as f64);
        }
    }
}

fn open(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let gzipped = path.extension().is_some_and(|e| e == "gz");
    Ok(if gzipped {
        Box::new(std::io::BufReader::new(flate2::read::GzDecoder::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    })
}

/// The labels evni has a category for, and the names of those it has not
/// (a fault family the file's author named): those are scored by session.
fn labels(raw: &[LabelIn]) -> (Vec<Label>, Vec<String>) {
    let mut known = Vec::new();
    let mut unnamed = Vec::new();
    for l in raw {
        match AnomalyCategory::parse(&l.category) {
            Some(category) => known.push(Label {
                category,
                start_unit: l.start_unit,
                end_unit: l.end_unit,
            }),
            None => unnamed.push(l.category.clone()),
        }
    }
    (known, unnamed)
}

/// Validates and merges readings as the API does, and reads the rated power
/// the session carries.
fn prepare(request: &serde_json::Value) -> anyhow::Result<(Vec<Reading>, SessionContext)> {
    let values: Vec<MeterValueIn> = match request.get("meter_values") {
        Some(values) => Vec::<MeterValueIn>::deserialize(values)?,
        None => Vec::new(),
    };
    // Files hold history: no reading is "in the future" here.
    let now = i64::MAX / 2;
    let mut readings = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        match value.validate(&format!("meter_values[{i}]"), now) {
            Ok(reading) => readings.push(reading),
            Err(errors) => bail!("invalid meter value: {}", errors[0].problem),
        }
    }
    let context = SessionContext {
        rated_power_kw: evni_engine::session_rated_power_kw(request.get("metadata")),
    };
    Ok((evni_engine::normalize_readings(&readings), context))
}

#[derive(Deserialize)]
struct Verdict {
    status: String,
    anomaly_score: Option<f64>,
    anomaly_confidence: Option<f64>,
    #[serde(default)]
    anomalies: Vec<Anomaly>,
}

/// Posts one session to the API and reads its verdict back as an outcome.
async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    request: &serde_json::Value,
) -> anyhow::Result<Outcome> {
    let response = client
        .post(format!("{}/v1/sessions", url.trim_end_matches('/')))
        .bearer_auth(token)
        .json(request)
        .send()
        .await
        .with_context(|| format!("posting to {url}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!(
            "the API answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    let verdict: Verdict = response.json().await.context("reading the verdict")?;
    Ok(match verdict.status.as_str() {
        "active" => Outcome::Analyzed(Analysis {
            anomalies: verdict.anomalies,
            anomaly_score: verdict.anomaly_score.unwrap_or(0.0),
            anomaly_confidence: verdict.anomaly_confidence.unwrap_or(0.0),
            sequence_length: 0,
            window_start: 0,
            readings_analyzed: 0,
        }),
        "failed" => Outcome::Failed {
            reason: "the API could not analyse it".into(),
        },
        _ => Outcome::Pending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_label_categories_are_kept_by_name() {
        let raw: Vec<LabelIn> = serde_json::from_str(
            r#"[{"category": "ENERGY_PIT", "start_unit": 3, "end_unit": 4},
                {"category": "contactor_weld", "start_unit": 0, "end_unit": 23}]"#,
        )
        .unwrap();
        let (known, unnamed) = labels(&raw);
        assert_eq!(known.len(), 1);
        assert_eq!(known[0].category, AnomalyCategory::EnergyPit);
        assert_eq!(unnamed, ["contactor_weld"]);
    }
}
