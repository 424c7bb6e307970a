//! Smooth, monotone building blocks for scores and confidences, so every
//! number in a verdict is a function of the data rather than a constant.

/// 0 at a threshold, rising towards 1 as `excess` (how far past it, in the
/// detector's own measure) grows; `scale` is the excess that reaches 63 %.
pub fn beyond(excess: f64, scale: f64) -> f64 {
    if excess.is_nan() || excess <= 0.0 {
        0.0
    } else {
        1.0 - (-excess / scale).exp()
    }
}

/// Combines independent pieces of severity or evidence: either one being
/// strong makes the whole strong.
pub fn either(a: f64, b: f64) -> f64 {
    1.0 - (1.0 - a.clamp(0.0, 1.0)) * (1.0 - b.clamp(0.0, 1.0))
}

/// Anomaly score from how far past its threshold a finding is: 0.5 right at
/// the threshold (the verdict's default cut), towards 1 for clear faults.
pub fn severity(past_threshold: f64) -> f64 {
    0.5 + 0.5 * past_threshold.clamp(0.0, 1.0)
}

/// Confidence from evidence points (one per supporting reading, more for
/// corroborating signals): 3 points give 63 %, 7 give 90 %.
pub fn confidence(points: f64) -> f64 {
    beyond(points, 3.0)
}

/// How close a value came to a threshold it must exceed, in [0, 1).
pub fn approach(value: f64, threshold: f64) -> f64 {
    if threshold <= 0.0 || value.is_nan() || value <= 0.0 {
        0.0
    } else {
        (value / threshold).min(0.999)
    }
}

/// `ln(value / threshold)`, or 0 when not past it: ratios such as implied
/// power spread over orders of magnitude.
pub fn log_ratio(value: f64, threshold: f64) -> f64 {
    if threshold > 0.0 && value > threshold {
        (value / threshold).ln()
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_edge_is_half_and_grows() {
        assert_eq!(severity(beyond(0.0, 1.0)), 0.5);
        assert!(severity(beyond(0.1, 1.0)) > 0.5);
        assert!(severity(beyond(5.0, 1.0)) > 0.99);
        assert!(confidence(2.0) < confidence(3.0));
        assert_eq!(either(0.5, 0.5), 0.75);
    }
}
