//! Evaluation against labelled sessions: session-level precision, recall and
//! F1, the false-alarm rate on clean sessions, and per-category scores where
//! a finding must overlap its label's bucket range (widened by one bucket on
//! each side). Pure: callers parse and analyse, this only counts.
//!
//! A label evni has no category for (a fault family a judge invented) is
//! scored by session only: found when the session is predicted anomalous.

use std::collections::BTreeMap;
use std::fmt;

use evni_domain::{Anomaly, AnomalyCategory};

use crate::Outcome;

/// A session is predicted anomalous from this score on (analysis.md §4).
pub const DEFAULT_THRESHOLD: f64 = 0.5;
/// Label ranges are widened by this many buckets on each side.
const TOLERANCE: u32 = 1;

/// One labelled anomaly: a category over an inclusive bucket range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    pub category: AnomalyCategory,
    pub start_unit: u32,
    pub end_unit: u32,
}

impl Label {
    /// Whether `anomaly` is of this label's category and overlaps its widened range.
    pub fn matches(&self, anomaly: &Anomaly) -> bool {
        anomaly.category == self.category
            && anomaly.bucket_range.start_unit <= self.end_unit + TOLERANCE
            && anomaly.bucket_range.end_unit + TOLERANCE >= self.start_unit
    }
}

/// Precision, recall and F1; `None` where nothing was there to measure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
}

impl Scores {
    fn from_counts(true_predicted: usize, predicted: usize, found: usize, actual: usize) -> Self {
        let ratio = |a: usize, b: usize| (b > 0).then(|| a as f64 / b as f64);
        let precision = ratio(true_predicted, predicted);
        let recall = ratio(found, actual);
        let f1 = match (precision, recall) {
            (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
            (Some(_), Some(_)) => Some(0.0),
            // Nothing labelled and nothing predicted: nothing to score.
            (None, None) => None,
            _ => Some(0.0),
        };
        Self {
            precision,
            recall,
            f1,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct CategoryCounts {
    labels: usize,
    labels_found: usize,
    predicted: usize,
    predicted_true: usize,
}

/// Accumulates the evaluation of many sessions.
#[derive(Debug, Clone)]
pub struct Evaluation {
    threshold: f64,
    sessions: usize,
    true_positive: usize,
    false_positive: usize,
    false_negative: usize,
    clean: usize,
    clean_alarms: usize,
    categories: [CategoryCounts; AnomalyCategory::ALL.len()],
    /// Per unknown label name: sessions carrying it, and of those predicted.
    unnamed: BTreeMap<String, (usize, usize)>,
}

impl Default for Evaluation {
    fn default() -> Self {
        Self::new(DEFAULT_THRESHOLD)
    }
}

impl Evaluation {
    pub fn new(threshold: f64) -> Self {
        Self {
            threshold,
            sessions: 0,
            true_positive: 0,
            false_positive: 0,
            false_negative: 0,
            clean: 0,
            clean_alarms: 0,
            categories: [CategoryCounts::default(); AnomalyCategory::ALL.len()],
            unnamed: BTreeMap::new(),
        }
    }

    /// Counts one session: its labels and what the analysis produced.
    pub fn add(&mut self, labels: &[Label], outcome: &Outcome) {
        self.add_with_unnamed(labels, &[], outcome);
    }

    /// Counts one session that may also carry labels of no known category
    /// (`unnamed`, by name): the session is anomalous, and a finding that
    /// matches no known label is not held against its category's precision,
    /// since it may be the unnamed fault.
    pub fn add_with_unnamed(&mut self, labels: &[Label], unnamed: &[String], outcome: &Outcome) {
        let (predicted, anomalies) = match outcome {
            Outcome::Analyzed(a) => (a.anomaly_score >= self.threshold, a.anomalies.as_slice()),
            Outcome::Pending | Outcome::Failed { .. } => (false, &[][..]),
        };
        self.sessions += 1;
        for name in unnamed {
            let entry = self.unnamed.entry(name.clone()).or_default();
            entry.0 += 1;
            entry.1 += usize::from(predicted);
        }
        let positive = !labels.is_empty() || !unnamed.is_empty();
        match (positive, predicted) {
            (true, true) => self.true_positive += 1,
            (true, false) => self.false_negative += 1,
            (false, true) => self.false_positive += 1,
            (false, false) => {}
        }
        if !positive {
            self.clean += 1;
            self.clean_alarms += usize::from(predicted);
        }
        for label in labels {
            let counts = &mut self.categories[index(label.category)];
            counts.labels += 1;
            counts.labels_found += usize::from(anomalies.iter().any(|a| label.matches(a)));
        }
        for anomaly in anomalies {
            let matched = labels.iter().any(|l| l.matches(anomaly));
            if !matched && !unnamed.is_empty() {
                continue;
            }
            let counts = &mut self.categories[index(anomaly.category)];
            counts.predicted += 1;
            counts.predicted_true += usize::from(matched);
        }
    }

    /// Session-level recall per unknown label name: (name, sessions, found).
    pub fn unnamed(&self) -> impl Iterator<Item = (&str, usize, usize)> {
        self.unnamed.iter().map(|(k, &(n, found))| (k.as_str(), n, found))
    }

    /// A session is positive with at least one label, predicted positive
    /// when its score reaches the threshold.
    pub fn session(&self) -> Scores {
        let labelled = self.true_positive + self.false_negative;
        let predicted = self.true_positive + self.false_positive;
        Scores::from_counts(self.true_positive, predicted, self.true_positive, labelled)
    }

    /// Share of clean sessions predicted anomalous.
    pub fn false_alarm_rate(&self) -> Option<f64> {
        (self.clean > 0).then(|| self.clean_alarms as f64 / self.clean as f64)
    }

    pub fn category(&self, category: AnomalyCategory) -> Scores {
        let c = &self.categories[index(category)];
        Scores::from_counts(c.predicted_true, c.predicted, c.labels_found, c.labels)
    }

    pub fn sessions(&self) -> usize {
        self.sessions
    }
}

fn index(category: AnomalyCategory) -> usize {
    AnomalyCategory::ALL
        .iter()
        .position(|c| *c == category)
        .unwrap_or(0)
}

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.session();
        writeln!(f, "{} sessions, threshold {:.2}", self.sessions, self.threshold)?;
        writeln!(
            f,
            "session   precision {}  recall {}  f1 {}  (tp {} fp {} fn {})",
            cell(s.precision),
            cell(s.recall),
            cell(s.f1),
            self.true_positive,
            self.false_positive,
            self.false_negative
        )?;
        writeln!(
            f,
            "clean     false alarms {} of {} ({})",
            self.clean_alarms,
            self.clean,
            self.false_alarm_rate()
                .map_or("-".to_owned(), |r| format!("{:.2} %", 100.0 * r))
        )?;
        writeln!(
            f,
            "{:<18} {:>7} {:>7} {:>9} {:>7} {:>7}",
            "category", "labels", "found", "precision", "recall", "f1"
        )?;
        for category in AnomalyCategory::ALL {
            let c = &self.categories[index(category)];
            if c.labels == 0 && c.predicted == 0 {
                continue;
            }
            let s = self.category(category);
            writeln!(
                f,
                "{:<18} {:>7} {:>7} {:>9} {:>7} {:>7}",
                category.as_str(),
                c.labels,
                c.predicted,
                cell(s.precision),
                cell(s.recall),
                cell(s.f1)
            )?;
        }
        for (name, n, found) in self.unnamed() {
            writeln!(
                f,
                "unnamed {name:<18} sessions {n:>5}  found {found:>5}  recall {:.3} (by session)",
                found as f64 / n as f64
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Analysis;
    use evni_domain::{BucketRange, Detector};

    fn outcome(score: f64, found: &[(AnomalyCategory, u32, u32)]) -> Outcome {
        let anomalies = found
            .iter()
            .map(|&(category, start_unit, end_unit)| Anomaly {
                category,
                score,
                confidence: 0.9,
                bucket_range: BucketRange { start_unit, end_unit },
                time_range: None,
                detector: Detector::Rule,
            })
            .collect();
        Outcome::Analyzed(Analysis {
            anomalies,
            anomaly_score: score,
            anomaly_confidence: 0.9,
            sequence_length: 24,
            window_start: 0,
            readings_analyzed: 100,
        })
    }

    #[test]
    fn counts_sessions_and_widened_overlaps() {
        use AnomalyCategory::*;
        let pit = Label {
            category: EnergyPit,
            start_unit: 5,
            end_unit: 6,
        };
        let mut eval = Evaluation::default();
        // Found one bucket off: still a match.
        eval.add(&[pit], &outcome(0.9, &[(EnergyPit, 7, 8)]));
        // Two buckets off and the wrong category elsewhere: missed, 2 false findings.
        eval.add(&[pit], &outcome(0.9, &[(EnergyPit, 8, 9), (DataGap, 5, 6)]));
        // A clean session with an alarm, and one without.
        eval.add(&[], &outcome(0.7, &[(PowerSpike, 1, 1)]));
        eval.add(&[], &outcome(0.1, &[]));

        let session = eval.session();
        assert_eq!(session.precision, Some(2.0 / 3.0));
        assert_eq!(session.recall, Some(1.0));
        assert_eq!(eval.false_alarm_rate(), Some(0.5));
        let pits = eval.category(EnergyPit);
        assert_eq!((pits.precision, pits.recall), (Some(0.5), Some(0.5)));
        assert_eq!(eval.category(DataGap).f1, Some(0.0));
        assert_eq!(eval.category(UnusualPattern).f1, None);
        assert!(eval.to_string().contains("ENERGY_PIT"));
    }

    #[test]
    fn unnamed_labels_are_scored_by_session() {
        use AnomalyCategory::*;
        let relay = vec!["RELAY_CHATTER".to_string()];
        let mut eval = Evaluation::default();
        // Found as some other category: counts as found, not as a false finding.
        eval.add_with_unnamed(&[], &relay, &outcome(0.8, &[(PowerSpike, 3, 4)]));
        eval.add_with_unnamed(&[], &relay, &outcome(0.2, &[]));
        eval.add(&[], &outcome(0.1, &[]));

        assert_eq!(eval.unnamed().collect::<Vec<_>>(), [("RELAY_CHATTER", 2, 1)]);
        assert_eq!(eval.session().recall, Some(0.5));
        assert_eq!(eval.session().precision, Some(1.0));
        assert_eq!(eval.false_alarm_rate(), Some(0.0));
        assert_eq!(eval.category(PowerSpike).precision, None);
        assert!(eval.to_string().contains("unnamed RELAY_CHATTER"));
    }
}
