//! The labelled development set (../shared/data/dev-sessions.jsonl.gz):
//! analyses every session as the API would and checks the targets.

use std::io::BufRead;

mod common;

use evni_analysis::eval::{Evaluation, Label};
use evni_analysis::{analyze, Outcome, SessionContext};
use evni_domain::{AnomalyCategory, MeterValueIn};
use serde::Deserialize;

const DEV_SET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/dev-sessions.jsonl.gz"
);

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    request: Request<'a>,
    labels: Vec<LabelIn>,
}

#[derive(Deserialize)]
struct Request<'a> {
    session_id: String,
    #[serde(borrow)]
    meter_values: Vec<MeterValueIn<'a>>,
}

#[derive(Deserialize)]
struct LabelIn {
    category: String,
    start_unit: u32,
    end_unit: u32,
}

#[test]
fn dev_set_meets_the_targets() {
    // The only independent accuracy check in the suite: missing data is a
    // failure, not a pass (CI has ../shared beside the repository).
    let file = std::fs::File::open(DEV_SET).unwrap_or_else(|e| {
        panic!("{DEV_SET}: {e} (the dev set must sit in ../shared beside the repository)")
    });
    let verbose = std::env::var_os("EVNI_DEV_VERBOSE").is_some();
    let mut eval = Evaluation::default();
    // Score spread: the highest verdict of a clean session and the lowest of a labelled one.
    let (mut clean_max, mut labelled_min): (f64, f64) = (0.0, 1.0);
    for line in std::io::BufReader::new(flate2::read::GzDecoder::new(file)).lines() {
        let line = line.expect("readable dev set");
        let parsed: Line = serde_json::from_str(&line).expect("valid JSON line");
        let labels: Vec<Label> = parsed
            .labels
            .iter()
            .map(|l| Label {
                category: AnomalyCategory::parse(&l.category).expect("known category"),
                start_unit: l.start_unit,
                end_unit: l.end_unit,
            })
            .collect();
        let outcome = analyze(
            &common::readings(&parsed.request.meter_values),
            &SessionContext::default(),
        );
        if verbose {
            report_mismatch(&parsed.request.session_id, &labels, &outcome);
        }
        if let Outcome::Analyzed(a) = &outcome {
            if labels.is_empty() {
                clean_max = clean_max.max(a.anomaly_score);
            } else {
                labelled_min = labelled_min.min(a.anomaly_score);
            }
        }
        eval.add(&labels, &outcome);
    }
    println!("{eval}");
    println!("highest clean score {clean_max:.3}, lowest labelled score {labelled_min:.3}");

    let session = eval.session();
    assert!(session.f1.unwrap() >= 0.98, "session F1 {:?}", session.f1);
    assert!(
        eval.false_alarm_rate().unwrap() <= 0.005,
        "false alarms {:?}",
        eval.false_alarm_rate()
    );
    for category in AnomalyCategory::ALL {
        if let Some(f1) = eval.category(category).f1 {
            assert!(f1 >= 0.95, "{category} F1 {f1:.3}");
        }
    }
}

/// Prints sessions whose findings differ from their labels (EVNI_DEV_VERBOSE).
fn report_mismatch(id: &str, labels: &[Label], outcome: &Outcome) {
    let Outcome::Analyzed(analysis) = outcome else {
        println!("{id}: {outcome:?} labels {labels:?}");
        return;
    };
    let all_found = labels
        .iter()
        .all(|l| analysis.anomalies.iter().any(|a| l.matches(a)));
    let all_true = analysis
        .anomalies
        .iter()
        .all(|a| labels.iter().any(|l| l.matches(a)));
    if !all_found || !all_true {
        let found: Vec<_> = analysis
            .anomalies
            .iter()
            .map(|a| {
                format!(
                    "{} {}..{} s={:.2} c={:.2}",
                    a.category, a.bucket_range.start_unit, a.bucket_range.end_unit, a.score, a.confidence
                )
            })
            .collect();
        let wanted: Vec<_> = labels
            .iter()
            .map(|l| format!("{} {}..{}", l.category, l.start_unit, l.end_unit))
            .collect();
        println!(
            "{id}: labels {wanted:?} found {found:?} score {:.2}",
            analysis.anomaly_score
        );
    }
}
