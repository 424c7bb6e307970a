//! How rules and models make one analysis. Pure, so the engine and
//! `evni eval` share it and tests can pin it down.
//!
//! - Rule findings always stand (detector `rule`).
//! - A CSAR-2 run becomes UNUSUAL_PATTERN only where no rule explains it:
//!   no rule finding within [`EXPLAINED_MARGIN`] buckets (detector
//!   `csar_2`). A fault a rule names disturbs the buckets around it too.
//! - A CSAR-C-2 proposal is added only where no finding overlaps it (its
//!   range widened by one bucket), with its own probability as confidence
//!   (detector `csar_c_2`). It comes last because a classifier is
//!   overconfident on what it never saw: it calls a phase loss a DATA_GAP
//!   with p > 0.9999, where CSAR-2 rightly says "unlike anything normal".
//! - Without findings, the verdict's normality score also reflects how far
//!   CSAR-2 finds the session from normal (still below 0.5).

use evni_analysis::{Analysis, Outcome};
use evni_domain::{micros_to_datetime, Anomaly, AnomalyCategory, BucketRange, Detector, Reading, TimeRange};

use crate::csar2::Csar2Score;
use crate::csarc2::Proposal;

/// Buckets around a finding within which CSAR-2's errors count as explained.
pub const EXPLAINED_MARGIN: u32 = 2;
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
    if let Some(score) = findings.csar2 {
        for run in score.runs() {
            let range = range(run.start, run.end);
            if overlaps_any(&analysis.anomalies, range, EXPLAINED_MARGIN) {
                continue;
            }
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
        if overlaps_any(&analysis.anomalies, range, PROPOSAL_MARGIN) {
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
    fn unexplained_runs_are_unusual_patterns_and_explained_ones_are_not() {
        let score = errors(&[3, 4, 5, 15, 16, 20]);
        let findings = ModelFindings {
            csar2: Some(&score),
            proposals: &[],
        };
        let out = combine(
            analysis(vec![rule(AnomalyCategory::DataGap, 13, 13)]),
            findings,
            &[],
        );
        // 15-16 lies within the margin of the rule's gap; 20 alone is too short.
        assert_eq!(
            anomalies(&out),
            vec![
                (AnomalyCategory::UnusualPattern, 3, Detector::Csar2),
                (AnomalyCategory::DataGap, 13, Detector::Rule)
            ]
        );
        let Outcome::Analyzed(a) = out else { panic!() };
        assert!(a.anomaly_score > 0.5);
    }

    #[test]
    fn proposals_only_fill_in_where_rules_found_nothing() {
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
        let findings = ModelFindings {
            csar2: None,
            proposals: &proposals,
        };
        let out = combine(
            analysis(vec![rule(AnomalyCategory::EnergyPit, 8, 8)]),
            findings,
            &[],
        );
        assert_eq!(
            anomalies(&out),
            vec![
                (AnomalyCategory::EnergyPit, 8, Detector::Rule),
                (AnomalyCategory::MeterStuck, 12, Detector::CsarC2)
            ]
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
