//! How rules and models make one analysis. Pure, so the engine and
//! `evni eval` share it and tests can pin it down.
//!
//! - Rule findings always stand (detector `rule`).
//! - Models add findings only to sessions where the rules found nothing: a
//!   fault a rule names disturbs the rest of the session's features too,
//!   and the session is flagged already.
//! - A CSAR-2 run becomes UNUSUAL_PATTERN (detector `csar_2`).
//! - A CSAR-C-2 proposal is added only where no finding overlaps it (its
//!   range widened by one bucket) and CSAR-2 finds at least one of its
//!   buckets unlike normal, with its own probability as confidence
//!   (detector `csar_c_2`). It comes last because a classifier is
//!   overconfident on what it never saw: it calls a phase loss a DATA_GAP
//!   with p > 0.9999, where CSAR-2 rightly says "unlike anything normal".
//! - Without findings, the verdict's normality score also reflects how far
//!   CSAR-2 finds the session from normal (still below 0.5).

use evni_analysis::{Analysis, Outcome};
use evni_domain::{micros_to_datetime, Anomaly, AnomalyCategory, BucketRange, Detector, Reading, TimeRange};

use crate::csar2::Csar2Score;
use crate::csarc2::Proposal;

const PROPOSAL_MARGIN: u32 = 1;
const BUCKET_MICROS: i64 = 15 * 60 * 1_000_000;
/// The model's share of the normality score: 0.05 for a typical session up
/// to 0.35 at the threshold (analysis.md §4: "low, e.g. 0.05..0.3").
const NORMAL_FLOOR: f64 = 0.05;
const NORMAL_SPAN: f64 = 0.30;

/// What the models found in one session.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelFindings<'a> {
    pub csar2: Option<&'a Csar2Score>,
    pub proposals: &'a [Proposal],
}

/// Combines the rules' outcome with the models' findings. `window` is the
/// analysed window's readings (for time ranges).
pub fn combine(outcome: Outcome, findings: ModelFindings<'_>, window: &[Reading]) -> Outcome {
    let Outcome::Analyzed(mut analysis) = outcome else {
        return outcome;
    };
    let rule_normal_score = analysis.anomaly_score;
    let rules_found = !analysis.anomalies.is_empty();
    if let (Some(score), false) = (findings.csar2, rules_found) {
        for run in score.runs() {
            let range = range(run.start, run.end);
            let excess = run.peak_ratio - 1.0;
            let length = (run.end - run.start + 1) as f64;
            analysis.anomalies.push(Anomaly {
                category: AnomalyCategory::UnusualPattern,
                score: 0.5 + 0.5 * (1.0 - (-excess).exp()),
                confidence: 1.0 - (-(excess + 0.25 * length)).exp(),
                bucket_range: range,
                time_range: time_range(&analysis, window, range),
                detector: Detector::Csar2,
            });
        }
    }
    for p in findings.proposals {
        let range = range(p.start, p.end);
        if rules_found
            || overlaps_any(&analysis.anomalies, range, PROPOSAL_MARGIN)
            || !corroborated(findings.csar2, p)
        {
            continue;
        }
        let past = ((p.probability - p.threshold) / (1.0 - p.threshold).max(1e-6)).clamp(0.0, 1.0);
        analysis.anomalies.push(Anomaly {
            category: p.category,
            score: 0.5 + 0.5 * past,
            confidence: p.probability.clamp(0.0, 1.0),
            bucket_range: range,
            time_range: time_range(&analysis, window, range),
            detector: Detector::CsarC2,
        });
    }
    analysis
        .anomalies
        .sort_by_key(|a| (a.bucket_range.start_unit, a.bucket_range.end_unit, a.category));
    match analysis
        .anomalies
        .iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
    {
        Some(top) => {
            analysis.anomaly_score = top.score;
            analysis.anomaly_confidence = top.confidence;
        }
        None => {
            if let Some(score) = findings.csar2 {
                let model = NORMAL_FLOOR + NORMAL_SPAN * score.ratio().clamp(0.0, 1.0).powi(2);
                analysis.anomaly_score = rule_normal_score.max(model);
            }
        }
    }
    Outcome::Analyzed(analysis)
}

/// CSAR-2 finds at least one bucket of the proposal unlike normal: a
/// classifier sure of a fault where the session looks normal is wrong.
fn corroborated(csar2: Option<&Csar2Score>, p: &Proposal) -> bool {
    csar2.is_some_and(|s| {
        s.bucket_error[p.start..=p.end.min(s.bucket_error.len() - 1)]
            .iter()
            .any(|e| *e > s.threshold)
    })
}

fn range(start: usize, end: usize) -> BucketRange {
    BucketRange {
        start_unit: start as u32,
        end_unit: end as u32,
    }
}

fn overlaps_any(anomalies: &[Anomaly], r: BucketRange, margin: u32) -> bool {
    anomalies.iter().any(|a| {
        a.bucket_range.start_unit <= r.end_unit + margin && a.bucket_range.end_unit + margin >= r.start_unit
    })
}

/// First and last reading inside the buckets of `r`.
fn time_range(analysis: &Analysis, window: &[Reading], r: BucketRange) -> Option<TimeRange> {
    let from = analysis.window_start + i64::from(r.start_unit) * BUCKET_MICROS;
    let to = if r.end_unit as usize + 1 >= evni_analysis::window::BUCKETS {
        i64::MAX
    } else {
        analysis.window_start + i64::from(r.end_unit + 1) * BUCKET_MICROS - 1
    };
    let start = window.partition_point(|x| x.ts < from);
    let end = window.partition_point(|x| x.ts <= to);
    let inside = &window[start..end.max(start)];
    Some(TimeRange {
        start_timestamp: Some(micros_to_datetime(inside.first()?.ts)),
        end_timestamp: Some(micros_to_datetime(inside.last()?.ts)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(anomalies: Vec<Anomaly>) -> Outcome {
        Outcome::Analyzed(Analysis {
            anomaly_score: anomalies.first().map_or(0.1, |a| a.score),
            anomaly_confidence: 0.9,
            anomalies,
            sequence_length: 24,
            window_start: 0,
            readings_analyzed: 100,
        })
    }

    fn rule(category: AnomalyCategory, start: u32, end: u32) -> Anomaly {
        Anomaly {
            category,
            score: 0.8,
            confidence: 0.9,
            bucket_range: BucketRange {
                start_unit: start,
                end_unit: end,
            },
            time_range: None,
            detector: Detector::Rule,
        }
    }

    fn errors(high: &[usize]) -> Csar2Score {
        let mut bucket_error = [0.01; 24];
        for b in high {
            bucket_error[*b] = 0.5;
        }
        Csar2Score {
            bucket_error,
            sequence_length: 24,
            threshold: 0.1,
            min_run: 2,
            window: 2,
        }
    }

    fn anomalies(outcome: &Outcome) -> Vec<(AnomalyCategory, u32, Detector)> {
        let Outcome::Analyzed(a) = outcome else { panic!() };
        a.anomalies
            .iter()
            .map(|x| (x.category, x.bucket_range.start_unit, x.detector))
            .collect()
    }

    #[test]
    fn runs_are_unusual_patterns_unless_a_rule_found_something() {
        let score = errors(&[3, 4, 5, 20]);
        let findings = ModelFindings {
            csar2: Some(&score),
            proposals: &[],
        };
        // 20 alone is shorter than a run.
        let out = combine(analysis(vec![]), findings, &[]);
        assert_eq!(
            anomalies(&out),
            vec![(AnomalyCategory::UnusualPattern, 3, Detector::Csar2)]
        );
        let Outcome::Analyzed(a) = out else { panic!() };
        assert!(a.anomaly_score > 0.5);
        let out = combine(
            analysis(vec![rule(AnomalyCategory::DataGap, 13, 13)]),
            findings,
            &[],
        );
        assert_eq!(
            anomalies(&out),
            vec![(AnomalyCategory::DataGap, 13, Detector::Rule)]
        );
    }

    #[test]
    fn proposals_need_a_session_the_rules_left_alone_and_csar_2_agreeing() {
        let proposals = [
            Proposal {
                category: AnomalyCategory::EnergyPit,
                start: 6,
                end: 7,
                probability: 0.99,
                threshold: 0.9,
            },
            Proposal {
                category: AnomalyCategory::MeterStuck,
                start: 12,
                end: 13,
                probability: 0.95,
                threshold: 0.9,
            },
        ];
        // CSAR-2 finds bucket 13 unusual (too short for a run), not 6-7.
        let score = errors(&[13]);
        let findings = ModelFindings {
            csar2: Some(&score),
            proposals: &proposals,
        };
        assert_eq!(
            anomalies(&combine(analysis(vec![]), findings, &[])),
            vec![(AnomalyCategory::MeterStuck, 12, Detector::CsarC2)]
        );
        let with_rule = combine(
            analysis(vec![rule(AnomalyCategory::EnergyPit, 8, 8)]),
            findings,
            &[],
        );
        assert_eq!(
            anomalies(&with_rule),
            vec![(AnomalyCategory::EnergyPit, 8, Detector::Rule)]
        );
    }

    #[test]
    fn a_normal_session_stays_below_the_cut_whatever_its_error() {
        let mut score = errors(&[]);
        score.bucket_error = [0.099; 24];
        let findings = ModelFindings {
            csar2: Some(&score),
            proposals: &[],
        };
        let Outcome::Analyzed(a) = combine(analysis(vec![]), findings, &[]) else {
            panic!()
        };
        assert!(a.anomalies.is_empty());
        assert!(
            a.anomaly_score > 0.3 && a.anomaly_score < 0.5,
            "{}",
            a.anomaly_score
        );
    }
}
