//! Merging readings by identity: the last write of an identity wins, so a
//! client that retries never double-counts.

use evni_domain::Reading;

/// Sorts readings by identity, keeping the last of each identity.
pub fn normalize(readings: &[Reading]) -> Vec<Reading> {
    let mut sorted: Vec<(usize, Reading)> = readings.iter().copied().enumerate().collect();
    // Stable on identity, so among equal identities the request order stays
    // and the last one can be kept.
    sorted.sort_by_key(|(i, r)| (r.key(), *i));
    let mut out: Vec<Reading> = Vec::with_capacity(sorted.len());
    for (_, r) in sorted {
        match out.last_mut() {
            Some(last) if last.key() == r.key() => *last = r,
            _ => out.push(r),
        }
    }
    out
}

/// [`merge`], moving `current` into the result instead of copying it when
/// every incoming reading is newer (a live session's usual append); `current`
/// is left empty then, and as it was otherwise.
pub(crate) fn append(current: &mut Vec<Reading>, incoming: &[Reading]) -> (Vec<Reading>, Vec<Reading>) {
    let incoming = normalize(incoming);
    match (current.last(), incoming.first()) {
        (Some(last), Some(first)) if last.key() < first.key() => {
            let mut merged = std::mem::take(current);
            merged.extend_from_slice(&incoming);
            (merged, incoming)
        }
        _ => merge_normalized(current, incoming),
    }
}

/// Merges `incoming` into `current` (sorted by identity). Returns the merged
/// readings and those that are new or changed (what must be written).
pub(crate) fn merge(current: &[Reading], incoming: &[Reading]) -> (Vec<Reading>, Vec<Reading>) {
    merge_normalized(current, normalize(incoming))
}

/// [`merge`] of readings already normalised.
fn merge_normalized(current: &[Reading], incoming: Vec<Reading>) -> (Vec<Reading>, Vec<Reading>) {
    let mut merged = Vec::with_capacity(current.len() + incoming.len());
    let mut changed = Vec::with_capacity(incoming.len());
    let (mut i, mut j) = (0, 0);
    while i < current.len() && j < incoming.len() {
        let (old, new) = (current[i], incoming[j]);
        match old.key().cmp(&new.key()) {
            std::cmp::Ordering::Less => {
                merged.push(old);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                merged.push(new);
                changed.push(new);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                if old != new {
                    changed.push(new);
                }
                merged.push(new);
                i += 1;
                j += 1;
            }
        }
    }
    merged.extend_from_slice(&current[i..]);
    for &new in &incoming[j..] {
        merged.push(new);
        changed.push(new);
    }
    (merged, changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use evni_domain::{Location, Measurand, UnitOfMeasure};

    fn reading(ts: i64, value: f64) -> Reading {
        Reading {
            ts,
            measurand: Measurand::EnergyActiveImportRegister,
            phase: None,
            location: Location::Outlet,
            unit: Some(UnitOfMeasure::KWh),
            value,
            context: None,
        }
    }

    #[test]
    fn last_write_of_an_identity_wins() {
        let merged = normalize(&[reading(2, 1.0), reading(1, 0.5), reading(2, 2.0)]);
        assert_eq!(merged, vec![reading(1, 0.5), reading(2, 2.0)]);
    }

    #[test]
    fn merge_reports_only_new_or_changed_readings() {
        let current = vec![reading(1, 1.0), reading(3, 3.0)];
        let (merged, changed) = merge(
            &current,
            &[reading(3, 3.0), reading(2, 2.0), reading(4, 4.0), reading(1, 1.5)],
        );
        assert_eq!(
            merged,
            vec![reading(1, 1.5), reading(2, 2.0), reading(3, 3.0), reading(4, 4.0)]
        );
        assert_eq!(changed, vec![reading(1, 1.5), reading(2, 2.0), reading(4, 4.0)]);
    }

    #[test]
    fn an_append_of_newer_readings_moves_the_current_ones_and_any_other_merges() {
        let mut current = vec![reading(1, 1.0), reading(2, 2.0)];
        let (merged, changed) = append(&mut current, &[reading(4, 4.0), reading(3, 3.0)]);
        assert_eq!(
            merged,
            vec![reading(1, 1.0), reading(2, 2.0), reading(3, 3.0), reading(4, 4.0)]
        );
        assert_eq!(changed, vec![reading(3, 3.0), reading(4, 4.0)]);
        assert!(current.is_empty(), "moved, not copied");

        let mut current = merged;
        let late = [reading(5, 5.0), reading(2, 2.5)];
        let (merged, changed) = append(&mut current, &late);
        assert_eq!((merged, changed), merge(&current, &late));
        assert_eq!(current.len(), 4, "left as it was");
    }

    #[test]
    fn retrying_an_append_changes_nothing() {
        let (merged, _) = merge(&[reading(1, 1.0)], &[reading(2, 2.0)]);
        let (again, changed) = merge(&merged, &[reading(2, 2.0)]);
        assert_eq!(again, merged);
        assert!(changed.is_empty());
    }
}
