//! ENERGY_PIT: delivery drops out mid-session, then recovers.

use evni_domain::{Anomaly, AnomalyCategory};

use super::{finding, readings_in, Rule};
use crate::score::{approach, beyond, confidence, either, severity};
use crate::series::Series;
use crate::window::BUCKETS;
use crate::SessionContext;

/// Bucket power below this share of the plateau is a pit.
pub const LOW_SHARE: f64 = 0.1;
/// The session must run at this share of the plateau before and after.
pub const RECOVERED_SHARE: f64 = 0.5;

pub struct EnergyPit;

impl Rule for EnergyPit {
    fn category(&self) -> AnomalyCategory {
        AnomalyCategory::EnergyPit
    }

    fn detect(&self, series: &Series, _: &SessionContext, out: &mut Vec<Anomaly>) -> f64 {
        let Some(plateau) = series.plateau_kw else {
            return 0.0;
        };
        // The hair below 10 % keeps a bucket at exactly 10 % (up to
        // rounding) out of the pit.
        let (low, high) = (LOW_SHARE * plateau * (1.0 - 1e-9), RECOVERED_SHARE * plateau);
        // Highest known bucket power strictly before / after each bucket.
        let n = series.sequence_length;
        let mut before = [f64::NEG_INFINITY; BUCKETS + 1];
        let mut after = [f64::NEG_INFINITY; BUCKETS + 1];
        for i in 0..n {
            before[i + 1] = before[i].max(series.buckets[i].power_kw.unwrap_or(f64::NEG_INFINITY));
        }
        for i in (0..n).rev() {
            after[i] = after[i + 1].max(series.buckets[i].power_kw.unwrap_or(f64::NEG_INFINITY));
        }

        let mut closest: f64 = 0.0;
        let mut i = 0;
        while i < n {
            let Some(power) = series.buckets[i].power_kw else {
                i += 1;
                continue;
            };
            if power >= low {
                i += 1;
                continue;
            }
            // A run of low buckets; unknown buckets inside it are skipped,
            // not taken as zero.
            let start = i;
            let mut end = i;
            let mut highest = power;
            i += 1;
            while i < n {
                match series.buckets[i].power_kw {
                    None => i += 1,
                    Some(p) if p < low => {
                        highest = highest.max(p);
                        end = i;
                        i += 1;
                    }
                    Some(_) => break,
                }
            }
            let recovered = before[start].min(after[end + 1]);
            if recovered < high {
                continue;
            }
            let depth = (low - highest) / low;
            let back = recovered / high - 1.0;
            let known = (start..=end)
                .filter(|&b| series.buckets[b].power_kw.is_some())
                .count() as f64;
            let past = beyond(depth, 0.4) * either(beyond(back, 0.5), beyond(known - 1.0, 2.0));
            let points = known + readings_in(series, start, end) / 3.0;
            out.push(finding(
                series,
                self.category(),
                severity(past),
                confidence(points),
                (start, end),
                (series.buckets[start].first_ts, series.buckets[end].last_ts),
            ));
        }
        // Closest approach: the lowest bucket that sits between two
        // buckets at the recovered level.
        for (b, power) in series.bucket_powers() {
            if before[b] >= high && after[b + 1] >= high {
                closest = closest.max(approach(low, power.max(1e-9)));
            }
        }
        closest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    /// 1-min power readings at `levels[i]` kW for bucket i.
    fn profile(levels: &[f64]) -> Vec<evni_domain::Reading> {
        power_profile(levels, 60)
    }

    #[test]
    fn power_just_under_ten_percent_for_one_bucket_is_a_pit() {
        let found = run(&EnergyPit, &profile(&[11.0, 11.0, 1.0, 11.0, 11.0]));
        assert_eq!(found.len(), 1);
        assert_eq!(range(&found[0]), (2, 2));
        assert!(found[0].score < 0.6, "{}", found[0].score);
    }

    #[test]
    fn power_at_ten_percent_is_not() {
        assert!(run(&EnergyPit, &profile(&[11.0, 11.0, 1.1, 11.0, 11.0])).is_empty());
    }

    #[test]
    fn recovery_must_reach_half_the_plateau() {
        assert!(run(&EnergyPit, &profile(&[11.0, 11.0, 0.0, 5.0, 5.0])).is_empty());
        assert_eq!(run(&EnergyPit, &profile(&[11.0, 11.0, 0.0, 6.0, 6.0])).len(), 1);
    }

    #[test]
    fn a_clear_pit_scores_high() {
        let found = run(&EnergyPit, &profile(&[50.0, 50.0, 0.0, 0.0, 0.0, 50.0, 50.0]));
        assert_eq!(range(&found[0]), (2, 4));
        assert!(found[0].score > 0.9 && found[0].confidence > 0.9);
    }
}
