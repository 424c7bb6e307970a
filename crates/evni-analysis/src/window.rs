//! The analysed window and its 15-minute buckets (analysis.md §2).

use evni_domain::{Micros, Reading, MICROS_PER_MINUTE};

/// Buckets in a full window.
pub const BUCKETS: usize = 24;
/// Length of one bucket.
pub const BUCKET: Micros = 15 * MICROS_PER_MINUTE;
/// Sessions longer than this are analysed on their last part.
pub const WINDOW: Micros = BUCKETS as Micros * BUCKET;

/// The readings with `ts >= latest - 6 h`. `readings` must be sorted by time.
pub fn window(readings: &[Reading]) -> &[Reading] {
    let Some(last) = readings.last() else {
        return readings;
    };
    let start = readings.partition_point(|r| r.ts < last.ts - WINDOW);
    &readings[start..]
}

/// The bucket of a reading `offset` after t0. A reading exactly 6 h after t0
/// closes the window and belongs to the last bucket.
pub fn bucket_of(offset: Micros) -> usize {
    ((offset.max(0) / BUCKET) as usize).min(BUCKETS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_edges() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(BUCKET - 1), 0);
        assert_eq!(bucket_of(BUCKET), 1);
        assert_eq!(bucket_of(WINDOW - 1), 23);
        assert_eq!(bucket_of(WINDOW), 23);
    }
}
