//! What the labelled-set tests share: meter values validated and merged as
//! the API does before analysing them.

use evni_domain::{MeterValueIn, Reading};

/// Labelled files hold history: no reading counts as "in the future".
const NOW: i64 = i64::MAX / 2;

/// Validated readings sorted by time, one per identity (last write wins).
pub fn readings(values: &[MeterValueIn<'_>]) -> Vec<Reading> {
    let mut readings: Vec<Reading> = values
        .iter()
        .enumerate()
        .map(|(i, mv)| {
            mv.validate(&format!("meter_values[{i}]"), NOW)
                .expect("labelled sessions are valid")
        })
        .collect();
    readings.sort_by_key(|r| r.key()); // stable: equal keys keep request order
    readings.reverse();
    readings.dedup_by_key(|r| r.key());
    readings.reverse();
    readings
}
