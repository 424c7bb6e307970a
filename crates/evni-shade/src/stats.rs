//! Small statistics: medians, robust spread, trimmed means and tails.

/// Median of sorted values.
pub(crate) fn median_sorted(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    median_sorted(&sorted)
}

/// Standard deviation estimated from the median absolute deviation: robust
/// to the odd bad day in a baseline.
pub(crate) fn robust_sd(values: &[f64]) -> Option<f64> {
    let center = median(values)?;
    let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    Some(1.4826 * median(&deviations)?)
}

/// Mean without the lowest and highest tenth.
pub(crate) fn trimmed_mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let cut = sorted.len() / 10;
    let kept = &sorted[cut..sorted.len() - cut];
    Some(kept.iter().sum::<f64>() / kept.len() as f64)
}

/// `P(X >= k)` for `X ~ Binomial(n, p)`.
pub(crate) fn binomial_upper_tail(k: u32, n: u32, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (ln_p, ln_q) = (p.ln(), (1.0 - p).ln());
    // ln C(n, i) built up term by term from i = k.
    let mut ln_choose: f64 = (0..k)
        .map(|i| ((n - i) as f64).ln() - ((i + 1) as f64).ln())
        .sum();
    let mut total = 0.0;
    for i in k..=n {
        total += (ln_choose + i as f64 * ln_p + (n - i) as f64 * ln_q).exp();
        if i < n {
            ln_choose += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
        }
    }
    total.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tail_matches_hand_figures() {
        // P(X >= 1 | 10, 0.1) = 1 - 0.9^10
        assert!((binomial_upper_tail(1, 10, 0.1) - (1.0 - 0.9f64.powi(10))).abs() < 1e-12);
        assert!((binomial_upper_tail(10, 10, 0.5) - 0.5f64.powi(10)).abs() < 1e-15);
        assert_eq!(binomial_upper_tail(0, 5, 0.2), 1.0);
        assert_eq!(binomial_upper_tail(6, 5, 0.2), 0.0);
    }

    #[test]
    fn robust_statistics_ignore_an_outlier() {
        let values = [10.0, 11.0, 9.0, 10.0, 10.5, 9.5, 100.0, 10.0, 10.0, 10.0];
        assert!((trimmed_mean(&values).unwrap() - 10.0).abs() < 0.2);
        assert!(robust_sd(&values).unwrap() < 1.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    }
}
