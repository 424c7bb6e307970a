//! From an analysis outcome to the stored verdict (analysis.md §4).

use evni_analysis::Outcome;
use evni_domain::{FeedbackLabel, Micros, SessionStatus};
use evni_store::{TenantSettings, Verdict};

/// Billing-critical anomalies at or above this confidence are incidents.
const INCIDENT_CONFIDENCE: f64 = 0.9;

/// The verdict of an analysis. Operator feedback overrides the incident
/// rule: a confirmed incident stays one, a false positive never is.
pub(crate) fn from_outcome(
    outcome: &Outcome,
    settings: &TenantSettings,
    feedback: Option<FeedbackLabel>,
    now: Micros,
) -> Verdict {
    match outcome {
        Outcome::Pending => Verdict::pending(),
        Outcome::Failed { reason } => Verdict {
            status: SessionStatus::Failed,
            status_reason: Some(reason.clone()),
            analyzed_at: Some(now),
            ..Verdict::pending()
        },
        Outcome::Analyzed(analysis) => {
            let is_incident = incident(feedback, || {
                analysis
                    .anomalies
                    .iter()
                    .any(|a| a.category.is_billing_critical() && a.confidence >= INCIDENT_CONFIDENCE)
            });
            Verdict {
                status: SessionStatus::Active,
                status_reason: None,
                is_anomaly: Some(analysis.anomaly_score >= settings.anomaly_threshold),
                anomaly_score: Some(analysis.anomaly_score),
                anomaly_confidence: Some(analysis.anomaly_confidence),
                is_incident: Some(is_incident),
                is_recurring: None,
                anomalies: analysis.anomalies.clone(),
                sequence_length: Some(analysis.sequence_length),
                analyzed_at: Some(now),
            }
        }
    }
}

/// `is_incident` given the operator's feedback, else the detection rule.
pub(crate) fn incident(feedback: Option<FeedbackLabel>, detected: impl FnOnce() -> bool) -> bool {
    match feedback {
        Some(FeedbackLabel::Incident) => true,
        Some(FeedbackLabel::FalsePositive | FeedbackLabel::Normal) => false,
        None => detected(),
    }
}
