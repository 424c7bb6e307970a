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

/// `P(X >= k)` for a count of mean `mean` whose variance is `dispersion`
/// times its mean: a negative binomial (events that come in clumps, such as
/// a driver's retries), the Poisson at a dispersion of 1.
pub(crate) fn count_upper_tail(k: u32, mean: f64, dispersion: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if mean <= 0.0 {
        return 0.0;
    }
    // pmf(i) = exp(ln_term(i)); Poisson when the dispersion is (about) 1.
    let ln_term: Box<dyn Fn(f64) -> f64> = if dispersion <= 1.0 + 1e-9 {
        Box::new(move |i: f64| -mean + i * mean.ln() - libm::lgamma(i + 1.0))
    } else {
        // Negative binomial: r = mean / (dispersion - 1), success p = 1 / dispersion.
        let r = mean / (dispersion - 1.0);
        let (ln_p, ln_q) = ((1.0 / dispersion).ln(), (1.0 - 1.0 / dispersion).ln());
        let ln_gamma_r = libm::lgamma(r);
        Box::new(move |i: f64| libm::lgamma(i + r) - ln_gamma_r - libm::lgamma(i + 1.0) + r * ln_p + i * ln_q)
    };
    // Summed upwards from k: the terms fall once past the mode, and exactly
    // enough for a tail far below 1e-300 not to underflow to a wrong sign.
    let mut total = 0.0;
    let mut i = k as f64;
    loop {
        let term = ln_term(i).exp();
        total += term;
        if (i > mean * dispersion && term <= total * 1e-12) || i > k as f64 + 1e6 {
            break;
        }
        i += 1.0;
    }
    total.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_tail_matches_hand_figures() {
        // Poisson: P(X >= 1 | 2) = 1 - e^-2; P(X >= 3 | 1) = 1 - e^-1 (1 + 1 + 1/2).
        assert!((count_upper_tail(1, 2.0, 1.0) - (1.0 - (-2.0f64).exp())).abs() < 1e-12);
        let p3 = 1.0 - (-1.0f64).exp() * 2.5;
        assert!((count_upper_tail(3, 1.0, 1.0) - p3).abs() < 1e-12);
        // Negative binomial r = 1 (geometric), p = 1/2: P(X >= k) = 2^-k.
        assert!((count_upper_tail(4, 1.0, 2.0) - 0.5f64.powi(4)).abs() < 1e-12);
        // Clumped counts are less surprising than Poisson ones.
        assert!(count_upper_tail(5, 0.5, 2.0) > count_upper_tail(5, 0.5, 1.0));
        assert_eq!(count_upper_tail(0, 0.5, 1.0), 1.0);
        assert_eq!(count_upper_tail(2, 0.0, 1.0), 0.0);
    }

    #[test]
    fn robust_statistics_ignore_an_outlier() {
        let values = [10.0, 11.0, 9.0, 10.0, 10.5, 9.5, 100.0, 10.0, 10.0, 10.0];
        assert!((trimmed_mean(&values).unwrap() - 10.0).abs() < 0.2);
        assert!(robust_sd(&values).unwrap() < 1.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    }
}
